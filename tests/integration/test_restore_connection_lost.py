"""A load connection killed by the server mid-restore: the restore fails in one line, the target stays."""

from __future__ import annotations

import threading
import time

import pytest

from cloudbackup.errors import OperationError
from cloudbackup.restore import restore_backup
from tests.fixtures.compare import assert_snapshots_equal, snapshot
from tests.fixtures.mariadb import admin_connect
from tests.integration.restore_helpers import back_up, change_live_data, make_shop, schemas_like

pytestmark = pytest.mark.integration


def kill_a_loading_connection(settings, prefix: str, done: threading.Event, killed: list[int]) -> None:
    """Wait for a connection loading rows into the staging database (INSERT, or LOAD DATA), then KILL it
    (as a failover would)."""
    with admin_connect(settings) as conn, conn.cursor() as cur:
        while not done.is_set():
            cur.execute(
                "SELECT id FROM information_schema.processlist WHERE db LIKE %s"
                " AND (info LIKE 'INSERT%%' OR info LIKE 'LOAD DATA%%')",
                (prefix.replace("_", "\\_") + "%",),
            )
            row = cur.fetchone()
            if row:
                cur.execute(f"KILL {int(row[0])}")
                killed.append(int(row[0]))
                return
            time.sleep(0.01)


def test_a_lost_connection_fails_cleanly(db_settings, make_database, tmp_path):
    # Given a live database that moved on since its backup
    source = make_database("rc")
    make_shop(db_settings, source, rows=100_000)
    entry = back_up(db_settings, source, tmp_path)
    change_live_data(db_settings, source)
    before = snapshot(db_settings, source)
    # When the server kills one of the restore's connections while rows load
    done, killed = threading.Event(), []
    killer = threading.Thread(
        target=kill_a_loading_connection, args=(db_settings, source + "__cbrestore_", done, killed)
    )
    killer.start()
    try:
        with pytest.raises(OperationError) as failure:
            restore_backup(db_settings, entry, in_place=True, jobs=2)
    finally:
        done.set()
        killer.join()
    # Then the error is one line naming the statement and the server's error, and nothing changed
    assert killed
    message = str(failure.value)
    assert "\n" not in message
    assert "statement " in message
    assert "was left as it was" in message
    assert_snapshots_equal(before, snapshot(db_settings, source))
    assert schemas_like(db_settings, source) == [source]
