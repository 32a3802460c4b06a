"""Regenerate `aws_taggable_types.txt` from the installed pulumi-aws SDK.

Run `python -m policies.taggable_types` after changing the pulumi-aws pin. A resource type is
taggable when its constructor stores a `tags` input; the SDK sources are read as text, since
importing all of pulumi-aws would take long.
"""

import importlib.util
import re
import sys
from pathlib import Path

from policies.tagging import TAGGABLE_TYPES_FILE

_CONSTRUCTOR = re.compile(
    r"def _internal_init\(.*?super\(\w+, __self__\)\.__init__\(\s*'(aws:[^']+)'", re.DOTALL
)
_STORES_TAGS = '__props__.__dict__["tags"] = tags'


def sdk_taggable_types() -> list[str]:
    spec = importlib.util.find_spec("pulumi_aws")
    if spec is None or spec.origin is None:
        raise RuntimeError("pulumi_aws is not installed in this environment")
    found: set[str] = set()
    for source in Path(spec.origin).parent.rglob("*.py"):
        for match in _CONSTRUCTOR.finditer(source.read_text(encoding="utf-8")):
            if _STORES_TAGS in match.group(0):
                found.add(match.group(1))
    return sorted(found)


def main() -> int:
    types = sdk_taggable_types()
    TAGGABLE_TYPES_FILE.write_text("\n".join(types) + "\n", encoding="utf-8")
    sys.stdout.write(f"{len(types)} taggable types written to {TAGGABLE_TYPES_FILE}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
