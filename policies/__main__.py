"""What `pulumi preview --policy-pack policies` runs: serve the pack to the engine.

The engine runs this file with `runpy.run_path("policies")`, which puts only this folder on
sys.path; the repository root is added so the modules import as the `policies` package, the
same way tests and the offline plan import them.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import PolicyPack

from policies.pack import build_pack

PolicyPack(**build_pack())
