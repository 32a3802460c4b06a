"""The throwaway-cluster helper fails loudly, naming the fix, when the server is not installed."""

import pytest

from tests import pg_cluster


def test_missing_server_binaries_name_the_install_script(monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name: None)
    monkeypatch.setattr("glob.glob", lambda pattern: [])

    with pytest.raises(pg_cluster.ClusterUnavailable, match="scripts/install-system-deps"):
        pg_cluster.server_bindir()
