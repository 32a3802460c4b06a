"""`python -m plan`: the offline plan of a stack (see plan/cli.py)."""

import gc
import sys

if __name__ == "__main__":
    # Importing the provider SDKs creates a few hundred thousand long-lived objects; the cyclic
    # collector rescans that growing heap over and over with nothing to free, about a third of
    # a fresh plan's time. This one-shot process leaves freeing to reference counting.
    gc.disable()
    from plan.cli import main

    sys.exit(main(sys.argv[1:]))
