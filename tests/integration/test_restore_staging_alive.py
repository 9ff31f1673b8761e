"""A restore's staging database stays marked alive while it loads, and is dropped however that mark ends.

The mark is a named lock on the staging database's own connection, idle for the whole load. A server
`wait_timeout` shorter than the restore closed it: a second restore of the same target then dropped
the staging database still loading, and the first restore's own drop failed and left it behind.
"""

from __future__ import annotations

import time

import pytest

from cloudbackup.errors import OperationError
from cloudbackup.mysql import staging
from cloudbackup.mysql.staging import StagingDatabase
from cloudbackup.restore import restore_backup
from tests.fixtures.mariadb import admin_connect
from tests.integration.backup_helpers import Hook
from tests.integration.restore_helpers import back_up, make_shop, schemas_like

pytestmark = pytest.mark.integration

SHORT_WAIT_TIMEOUT = 2


@pytest.fixture
def staging_connections(monkeypatch):
    """The connections StagingDatabase opens, each starting with `wait_timeout` SHORT_WAIT_TIMEOUT."""
    opened = []
    real_connect = staging.connect

    def connect(*args, **kwargs):
        kwargs.setdefault("init_command", f"SET SESSION wait_timeout = {SHORT_WAIT_TIMEOUT}")
        conn = real_connect(*args, **kwargs)
        opened.append(conn)
        return conn

    monkeypatch.setattr(staging, "connect", connect)
    return opened


def test_staging_outlives_a_short_wait_timeout(db_settings, make_database, tmp_path, staging_connections):
    """The short timeout is set on the staging connection's session as it connects (what a server
    with that GLOBAL wait_timeout gives every new session), not with SET GLOBAL: the MariaDB server
    is shared with other test sessions, whose connections a global 2 s would close under them."""
    # Given a backup, and a server that closes the staging connection after 2 s idle
    source = make_database("alive")
    make_shop(db_settings, source)
    entry = back_up(db_settings, source, tmp_path)
    target = source + "_copy"
    dropped_by_second = []
    refused = []

    def second_restore_starts() -> None:
        # Idle past the timeout, then do what a second restore of the same target does first: it is
        # refused while the first one's connection (and so its locks) lives
        time.sleep(SHORT_WAIT_TIMEOUT + 1.5)
        try:
            second = StagingDatabase(db_settings, target, charset="utf8mb4", collation="utf8mb4_general_ci")
        except OperationError as exc:
            refused.append(str(exc))
            return
        dropped_by_second.extend(second.stale_dropped)
        second.drop()

    # When a restore is under way, idle on the staging connection longer than that
    restore_backup(
        db_settings, entry, target_database=target, jobs=1, progress=Hook(on_rows=second_restore_starts)
    )

    # Then the second restore left its staging database alone, and the first dropped it at the end
    assert dropped_by_second == []
    assert refused == [
        f"another restore into {target} is running; nothing was changed: "
        "let it finish (or stop it), then restore again"
    ]
    assert schemas_like(db_settings, target) == [target]


def test_staging_is_dropped_when_its_connection_died(
    db_settings, make_database, tmp_path, staging_connections
):
    # Given a backup
    source = make_database("alive")
    make_shop(db_settings, source)
    entry = back_up(db_settings, source, tmp_path)
    target = source + "_copy"

    def kill_staging_connection() -> None:
        with admin_connect(db_settings) as conn, conn.cursor() as cur:
            cur.execute(f"KILL CONNECTION {staging_connections[0].thread_id()}")

    # When the staging database's connection is killed while the restore loads
    restore_backup(
        db_settings, entry, target_database=target, jobs=1, progress=Hook(on_rows=kill_staging_connection)
    )

    # Then the restore still drops its staging database at the end
    assert schemas_like(db_settings, target) == [target]
