"""The zone settings the edge stack keeps zone-wide (components/zone_settings.py)."""

from components.zone_settings import ZONE_SETTINGS, ZoneSettings, ZoneSettingsArgs
from tests.components.edge_alarm_fixtures import render
from tests.components.edge_stack_fixtures import ZONE_SETTING, render_edge


def test_only_the_settings_right_for_every_hostname_are_zone_wide():
    assert ZONE_SETTINGS == {"min_tls_version": "1.2", "tls_1_3": "on", "always_use_https": "on"}
    # Per hostname instead (Configuration Rules): strict origin TLS, HTTPS rewrites.
    assert "ssl" not in ZONE_SETTINGS
    assert "automatic_https_rewrites" not in ZONE_SETTINGS


def test_one_zone_setting_resource_each_with_a_readable_name():
    mocks = render(lambda: ZoneSettings("zone-settings", ZoneSettingsArgs(zone_id="zone-1")))

    settings = {
        s.name: (s.inputs["settingId"], s.inputs["value"]) for s in mocks.of_type(ZONE_SETTING)
    }
    assert settings == {
        "zone-settings-min-tls-version": ("min_tls_version", "1.2"),
        "zone-settings-tls-1-3": ("tls_1_3", "on"),
        "zone-settings-always-use-https": ("always_use_https", "on"),
    }


def test_the_edge_stack_owns_the_zone_settings():
    rendering = render_edge()

    assert sorted(s.inputs["settingId"] for s in rendering.of_type(ZONE_SETTING)) == sorted(
        ZONE_SETTINGS
    )
