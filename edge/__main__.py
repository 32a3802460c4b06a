"""The Cloudflare zone shared by the environments: its zone-level configuration, owned once.

A zone has one entry-point ruleset per phase and one value per zone setting, so neither
environment stack may create them (the second to deploy would fail with Cloudflare error 20217,
and destroying one would delete the other's rules). This stack reads each environment stack's
`edge` output (components/edge_export.py) and creates:
- one entry-point ruleset per phase holding every environment's rules, each scoped to its
  hostname (components/zone_rulesets.py);
- the zone settings kept zone-wide on purpose (components/zone_settings.py).

Deploy order: the environment stacks first (they export `edge`), then this one.
"""

import sys
from pathlib import Path

# The program imports the repository's packages (components, config, app). The Pulumi CLI runs
# it with this directory as the working directory and on sys.path, the repository root not: so
# the root is put first on the path here. plan/render.py runs it in-process with the root
# already importable (the insert is then a no-op), as policies/__main__.py does for the pack.
REPOSITORY_ROOT = str(Path(__file__).resolve().parent.parent)
if REPOSITORY_ROOT not in sys.path:
    sys.path.insert(0, REPOSITORY_ROOT)

import pulumi  # noqa: E402
import pulumi_cloudflare as cloudflare  # noqa: E402

from components.edge_export import read_environment_edge  # noqa: E402
from components.zone_rulesets import ZoneRulesets, ZoneRulesetsArgs  # noqa: E402
from components.zone_settings import ZoneSettings, ZoneSettingsArgs  # noqa: E402
from config.edge_stack import load_edge_stack_settings  # noqa: E402

settings = load_edge_stack_settings()
zone_id = cloudflare.get_zone_output(
    filter=cloudflare.GetZoneFilterArgs(name=settings.zone_name, match="all")
).id

environments = [read_environment_edge(environment) for environment in settings.environments]

rulesets = ZoneRulesets(
    "zone-rulesets",
    ZoneRulesetsArgs(
        zone_id=zone_id,
        zone_name=settings.zone_name,
        plan=settings.plan,
        environments=environments,
    ),
)
zone_settings = ZoneSettings("zone-settings", ZoneSettingsArgs(zone_id=zone_id))

pulumi.export("zone_id", zone_id)
pulumi.export("plan", settings.plan)
pulumi.export(
    "hostnames", [environment.edge.apply(lambda e: e.hostname) for environment in environments]
)
pulumi.export("ruleset_ids", rulesets.ruleset_ids)
pulumi.export("zone_setting_ids", zone_settings.setting_ids)
