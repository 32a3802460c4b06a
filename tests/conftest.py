"""Fixtures shared by every test folder. Folder-specific fixtures live in that folder's conftest."""

import pytest

from plan.render import ensure_event_loop


@pytest.fixture(autouse=True)
def event_loop_for_pulumi() -> None:
    """`@pulumi.runtime.test` runs on the current event loop, which an earlier test's
    `asyncio.run()` may have removed."""
    ensure_event_loop()
