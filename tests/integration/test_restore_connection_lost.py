"""A load connection killed by the server mid-restore: the restore fails in one line, the target stays."""

from __future__ import annotations

import threading
import time

import pytest

from cloudbackup import restore as restore_module
from cloudbackup.errors import CloudBackupError, OperationError
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


def dropping_the_nth_check_connection(monkeypatch, settings, n: int) -> list[int]:
    """Make the server drop the n-th connection (from 0) the restore opens for its own checks, right
    after it opens (a failover). Returns the ids dropped."""
    real_connect, opened, dropped = restore_module.connect, [], []

    def connect(*args, **kwargs):
        conn = real_connect(*args, **kwargs)
        opened.append(conn)
        if len(opened) == n + 1:
            with admin_connect(settings) as admin, admin.cursor() as cur:
                cur.execute(f"KILL {conn.thread_id()}")
            dropped.append(conn.thread_id())
        return conn

    monkeypatch.setattr(restore_module, "connect", connect)
    return dropped


def test_a_connection_lost_at_any_check_before_loading_fails_in_one_line(
    db_settings, make_database, tmp_path, monkeypatch
):
    # Given a backup, and a new target for it
    source = make_database("rcc")
    make_shop(db_settings, source, rows=100)
    entry = back_up(db_settings, source, tmp_path)
    target = source + "_new"
    for n in range(10):
        # When the server drops the n-th connection the restore opens for its checks
        dropped = dropping_the_nth_check_connection(monkeypatch, db_settings, n)
        try:
            restore_backup(db_settings, entry, target_database=target)
        except CloudBackupError as exc:
            failure: CloudBackupError | None = exc
        else:
            failure = None
        if not dropped:
            break  # the restore opened fewer connections: every one was dropped in turn
        # Then the restore fails with one line saying the target was left as it was, and creates nothing
        assert failure is not None, f"connection {n} dropped, yet the restore succeeded"
        assert "\n" not in str(failure)
        assert f"{target} was left as it was" in str(failure), str(failure)
        assert schemas_like(db_settings, target) == []
    assert n > 1
