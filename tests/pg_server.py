"""The throwaway PostgreSQL server (eval/servers.py), for tests.

Without the binaries the tests that need it are skipped with the reason, except where `CI` is
set: there they fail, so a CI run never passes without having run them (`.ci/run` installs the
package).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from eval.servers import PgServer, pg_bin_dir, postgres_server

__all__ = ["PgServer", "postgres_server", "require_postgres"]


def require_postgres() -> Path:
    """The server binaries, or skip (fail under CI) saying how to install them."""
    bin_dir = pg_bin_dir()
    if bin_dir is None or not (bin_dir / "pg_ctl").exists():
        reason = "PostgreSQL tests need the server (apt-get install postgresql)"
        if "CI" in os.environ:
            pytest.fail(f"{reason}; CI is set, so they may not be skipped")
        pytest.skip(reason)
    return bin_dir
