"""On MySQL (binary log and GTIDs on), a backup records its snapshot's own position (real MySQL 9.7).

MySQL has no binlog_snapshot_file: the position is the binary log's, read before and after the
snapshots open and kept only when it did not move (mysql/shared_snapshot.py); on a server that never
pauses, it is read while LOCK TABLES … READ holds the backed-up tables still (mysql/table_lock.py). So
every transaction in the recorded GTID set is in the backup, and none after it, or no position is
recorded at all.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from cloudbackup.backup import backup_database
from cloudbackup.binlog.pitr import plan_replay
from cloudbackup.dburl import DbSettings, parse_db_url
from cloudbackup.errors import OperationError
from cloudbackup.mysql.table_lock import LOCK_WAIT_SECONDS
from cloudbackup.storage.local import LocalStorage
from tests.fixtures.mariadb import admin_connect
from tests.fixtures.numbers import numbers
from tests.integration.backup_helpers import commits_never_stop, inserting

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def mysql_settings(mysql_server) -> DbSettings:
    return parse_db_url(mysql_server.url, environ={})


@pytest.fixture
def binlog_db(mysql_settings) -> Iterator[str]:
    """A database with a table `t` (auto-increment id) of 1,000 rows."""
    name = f"cbt_binlog_{uuid.uuid4().hex[:8]}"
    with admin_connect(mysql_settings) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}`")
        cur.execute(f"USE `{name}`")
        cur.execute("CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, v INT) ENGINE=InnoDB")
        cur.execute(f"INSERT INTO t (v) SELECT seq FROM {numbers(1000)}")
    yield name
    with admin_connect(mysql_settings) as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")


def transactions(gtid_set: str) -> int:
    """How many transactions a GTID set such as `uuid:1-40:42,uuid2:7` names."""
    count = 0
    for source in gtid_set.split(","):
        for interval in source.split(":")[1:]:
            low, _, high = interval.partition("-")
            count += int(high or low) - int(low) + 1
    return count


def executed(settings: DbSettings) -> str:
    with admin_connect(settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT @@global.gtid_executed")
        return str(cur.fetchone()[0]).replace("\n", "")


def test_a_quiet_server_records_the_current_binlog_position(mysql_settings, binlog_db, tmp_path, caplog):
    # Given a MySQL server where nothing is being written
    with admin_connect(mysql_settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT LOCAL FROM performance_schema.log_status")
        local = json.loads(cur.fetchone()[0])
    # When the database is backed up (its table read on several connections)
    with caplog.at_level(logging.DEBUG, logger="cloudbackup.mysql.dump"):
        manifest = backup_database(
            mysql_settings, binlog_db, LocalStorage(tmp_path), source="t", split_min_bytes=1
        )
    # Then the manifest holds that very position: file, offset and GTID set
    assert "reading t on 4 connections" in caplog.text
    assert manifest.snapshot.binlog_file == local["binary_log_file"]
    assert manifest.snapshot.binlog_pos == local["binary_log_position"]
    assert manifest.snapshot.gtid == local["gtid_executed"].replace("\n", "")
    assert transactions(manifest.snapshot.gtid) > 0


@pytest.mark.parametrize("split_min_bytes", [1, 1 << 40], ids=["four-connections", "one-connection"])
def test_the_gtid_set_matches_the_rows_while_writes_go_on(
    mysql_settings, binlog_db, tmp_path, split_min_bytes
):
    # Given a session committing one row per transaction, a few times a second, from a known GTID set on
    start = transactions(executed(mysql_settings))
    with inserting(mysql_settings, binlog_db, pause=0.15, first=10):
        # When the database is backed up meanwhile
        manifest = backup_database(
            mysql_settings, binlog_db, LocalStorage(tmp_path), source="t", split_min_bytes=split_min_bytes
        )
    # Then it holds exactly the transactions up to its recorded GTID set: the 1,000 first rows plus
    # one row per insert in the set
    assert manifest.snapshot.gtid is not None
    assert manifest.snapshot.binlog_file is not None
    (table,) = manifest.tables
    assert table.rows == 1000 + transactions(manifest.snapshot.gtid) - start
    assert table.rows >= 1000 + 10


@pytest.fixture
def busy(mysql_settings, binlog_db, monkeypatch) -> Iterator[int]:
    """A session committing one row per transaction into `t` without pause, already 200 rows on, on a
    server where the lock-free proof never holds (commits_never_stop).

    Yields how many transactions the server had executed before it started."""
    commits_never_stop(monkeypatch)
    start = transactions(executed(mysql_settings))
    with inserting(mysql_settings, binlog_db, pause=0, first=200):
        yield start


@pytest.mark.parametrize("split_min_bytes", [1, 1 << 40], ids=["four-connections", "one-connection"])
def test_a_server_that_never_pauses_records_the_snapshots_own_position(
    mysql_settings, binlog_db, busy, tmp_path, caplog, split_min_bytes
):
    # Given a session committing one row per transaction without pause (the lock-free proof fails)
    # When the database is backed up meanwhile
    with caplog.at_level(logging.DEBUG, logger="cloudbackup"):
        manifest = backup_database(
            mysql_settings, binlog_db, LocalStorage(tmp_path), source="t", split_min_bytes=split_min_bytes
        )
    # Then it records a position, read under the brief table lock
    assert manifest.snapshot.binlog_file is not None
    assert manifest.snapshot.gtid is not None
    assert f"the snapshot was taken under LOCK TABLES … READ on {binlog_db}" in caplog.text
    # that is exactly the snapshot's: one row per transaction in the GTID set since the writer began
    (table,) = manifest.tables
    assert table.rows >= 1000 + 200
    assert table.rows == 1000 + transactions(manifest.snapshot.gtid) - busy
    if split_min_bytes == 1:  # and the other connections shared that snapshot
        assert "reading t on 4 connections" in caplog.text


def test_a_long_write_transaction_costs_the_position_after_the_short_lock_wait(
    mysql_settings, binlog_db, busy, tmp_path, caplog
):
    # Given, besides the busy writer, a transaction that has written a second table and stays open
    with admin_connect(mysql_settings, binlog_db) as setup, setup.cursor() as cur:
        cur.execute("CREATE TABLE u (id INT PRIMARY KEY) ENGINE=InnoDB")
    with admin_connect(mysql_settings, binlog_db) as long, long.cursor() as cur:
        cur.execute("BEGIN")
        cur.execute("INSERT INTO u VALUES (1)")
        # When the database is backed up meanwhile
        began = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="cloudbackup"):
            manifest = backup_database(
                mysql_settings, binlog_db, LocalStorage(tmp_path), source="t", split_min_bytes=1
            )
        took = time.monotonic() - began
        cur.execute("ROLLBACK")
    # Then it gave the lock up after its short wait, and records no position, saying why
    assert took < LOCK_WAIT_SECONDS + 3
    assert manifest.snapshot.binlog_file is None
    assert manifest.snapshot.gtid is None
    assert (
        f"the server never paused writing and LOCK TABLES on {binlog_db}'s tables waited "
        f"{LOCK_WAIT_SECONDS} s in vain" in caplog.text
    )
    assert "records no binary log position" in caplog.text
    # and still holds every row up to its snapshot, none of the open transaction's
    assert {t.name: t.rows >= 1000 + 200 if t.name == "t" else t.rows for t in manifest.tables} == {
        "t": True,
        "u": 0,
    }


def test_a_long_write_transaction_on_an_excluded_table_does_not_hold_the_lock_up(
    mysql_settings, binlog_db, busy, tmp_path
):
    # Given, besides the busy writer, an open transaction that has written a table left out of the backup
    with admin_connect(mysql_settings, binlog_db) as setup, setup.cursor() as cur:
        cur.execute("CREATE TABLE u (id INT PRIMARY KEY) ENGINE=InnoDB")
    with admin_connect(mysql_settings, binlog_db) as long, long.cursor() as cur:
        cur.execute("BEGIN")
        cur.execute("INSERT INTO u VALUES (1)")
        # When the database is backed up without that table
        manifest = backup_database(
            mysql_settings, binlog_db, LocalStorage(tmp_path), source="t", exclude_tables=["u"]
        )
        cur.execute("ROLLBACK")
    # Then only the tables it reads were locked: it records the snapshot's own position
    assert manifest.snapshot.gtid is not None
    (table,) = manifest.tables
    assert table.rows == 1000 + transactions(manifest.snapshot.gtid) - busy - 1  # (the CREATE is one)


@pytest.fixture
def backup_user(mysql_settings) -> Iterator[DbSettings]:
    """A user with the README's minimal backup grants (no LOCK TABLES)."""
    user = f"cbt_nolock_{uuid.uuid4().hex[:6]}"
    with admin_connect(mysql_settings) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'No-lock-9!'")
        cur.execute(f"GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, REPLICATION CLIENT ON *.* TO '{user}'@'%'")
    yield replace(mysql_settings, user=user, password="No-lock-9!")
    with admin_connect(mysql_settings) as conn, conn.cursor() as cur:
        cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")


def test_a_user_without_lock_tables_gets_no_position_on_a_busy_server(
    mysql_settings, binlog_db, backup_user, busy, tmp_path, caplog
):
    # Given a busy server and a backup user that may not LOCK TABLES
    # When it backs the database up
    with caplog.at_level(logging.WARNING, logger="cloudbackup"):
        refused = backup_database(backup_user, binlog_db, LocalStorage(tmp_path), source="t")
    # Then the backup is made, without a position, and the warning names the missing grant
    assert refused.snapshot.binlog_file is None
    assert refused.snapshot.gtid is None
    assert f"the backup user may not LOCK TABLES on {binlog_db} (grant LOCK TABLES" in caplog.text
    (table,) = refused.tables
    assert table.rows >= 1000 + 200
    # And once granted LOCK TABLES (the README's optional grant), the same user's backup has its position
    with admin_connect(mysql_settings) as conn, conn.cursor() as cur:
        cur.execute(f"GRANT LOCK TABLES ON *.* TO '{backup_user.user}'@'%'")
    granted = backup_database(backup_user, binlog_db, LocalStorage(tmp_path), source="t")
    (table,) = granted.tables
    assert granted.snapshot.gtid is not None
    assert table.rows == 1000 + transactions(granted.snapshot.gtid) - busy - 1  # (the GRANT is one)


@contextmanager
def timed_writes(settings: DbSettings, database: str, table: str) -> Iterator[list[float]]:
    """A session inserting into `table (v)` of `database` in a loop; yields the list its slowest insert
    (seconds) is kept in, up to date once the block ends."""
    slowest = [0.0]
    stop = threading.Event()

    def write() -> None:
        with admin_connect(settings, database) as conn, conn.cursor() as cur:
            while not stop.is_set():
                began = time.monotonic()
                cur.execute(f"INSERT INTO {table} (v) VALUES (1)")
                slowest[0] = max(slowest[0], time.monotonic() - began)
                time.sleep(0.005)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        yield slowest
    finally:
        stop.set()
        writer.join()


def test_a_long_write_transaction_holds_up_the_other_tables_writers_only_briefly(
    mysql_settings, binlog_db, busy, tmp_path
):
    # Given, besides the busy writer of t, a transaction that has written `u` and stays open, and a
    # writer of `a` (which LOCK TABLES takes before `u`) that times its inserts
    with admin_connect(mysql_settings, binlog_db) as setup, setup.cursor() as cur:
        cur.execute("CREATE TABLE u (id INT PRIMARY KEY) ENGINE=InnoDB")
        cur.execute("CREATE TABLE a (id INT AUTO_INCREMENT PRIMARY KEY, v INT) ENGINE=InnoDB")
    with admin_connect(mysql_settings, binlog_db) as long, long.cursor() as cur:
        cur.execute("BEGIN")
        cur.execute("INSERT INTO u VALUES (1)")
        with timed_writes(mysql_settings, binlog_db, "a") as slowest:
            # When the database is backed up meanwhile (the lock-free proof fails, the lock is tried)
            manifest = backup_database(mysql_settings, binlog_db, LocalStorage(tmp_path), source="t")
        cur.execute("ROLLBACK")
    # Then it records no position, as before, and the writer of `a` was never held up for long: the
    # lock is not kept on `a` while it waits for `u`
    assert manifest.snapshot.binlog_file is None
    assert slowest[0] < 0.5


@pytest.fixture
def user_without_lock_tables(mysql_settings) -> Iterator[DbSettings]:
    """A backup user with the README's grants but the optional LOCK TABLES."""
    user = f"cbt_nolock_{uuid.uuid4().hex[:6]}"
    with admin_connect(mysql_settings) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'pw'")
        cur.execute(f"GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, REPLICATION CLIENT ON *.* TO '{user}'@'%'")
    yield replace(mysql_settings, user=user, password="pw")
    with admin_connect(mysql_settings) as conn, conn.cursor() as cur:
        cur.execute(f"DROP USER '{user}'@'%'")


def test_a_point_in_time_restore_from_a_backup_without_position_says_why_it_has_none(
    mysql_settings, binlog_db, busy, user_without_lock_tables, tmp_path
):
    # Given a backup of a server that never paused writing, by a user who may not LOCK TABLES: it
    # records no position, though the binary log is on
    store = LocalStorage(tmp_path)
    manifest = backup_database(user_without_lock_tables, binlog_db, store, source="t")
    assert manifest.snapshot.binlog_file is None
    # When a point-in-time restore is planned from it
    with pytest.raises(OperationError) as failure:
        plan_replay([store], binlog_db, datetime.now(UTC))
    # Then the one line names both causes, not only a binary log that was off
    said = str(failure.value)
    assert "\n" not in said
    assert "LOCK TABLES" in said


@contextmanager
def commit_held_in_the_binlog(settings: DbSettings, database: str) -> Iterator[None]:
    """One INSERT into `t` whose commit the binary log has written but holds in its sync stage
    (binlog_group_commit_sync_delay, as busy servers set it; a slow fsync does the same): the log's
    position is past it, InnoDB has not committed it yet. Yields once it is held (its GTID owned)."""
    with admin_connect(settings) as conn, conn.cursor() as cur:
        cur.execute(f"SET GLOBAL binlog_group_commit_sync_delay = {HELD_COMMIT_SECONDS * 1_000_000}")
        writer = threading.Thread(target=_insert_one, args=(settings, database), daemon=True)
        try:
            writer.start()
            deadline = time.monotonic() + HELD_COMMIT_SECONDS / 2
            while not _gtids_owned(cur):
                assert time.monotonic() < deadline, "the insert's commit never reached the binary log"
                time.sleep(0.01)
            yield
        finally:
            cur.execute("SET GLOBAL binlog_group_commit_sync_delay = 0")
            writer.join()


HELD_COMMIT_SECONDS = 3


def _insert_one(settings: DbSettings, database: str) -> None:
    with admin_connect(settings, database) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO t (v) VALUES (-1)")


@pytest.mark.parametrize("split_min_bytes", [1, 1 << 40], ids=["four-connections", "one-connection"])
def test_a_server_committing_every_few_milliseconds_is_backed_up_without_a_lock_and_exactly(
    mysql_settings, binlog_db, tmp_path, caplog, split_min_bytes
):
    # Given a session committing one row per transaction every 10 ms (the proof takes no quiet pause:
    # its tries pass between two commits, where a 50 ms pause would always have seen one)
    start = transactions(executed(mysql_settings))
    with inserting(mysql_settings, binlog_db, pause=0.01, first=20), caplog.at_level(logging.INFO):
        # When the database is backed up ten times meanwhile
        manifests = [
            backup_database(
                mysql_settings, binlog_db, LocalStorage(tmp_path / str(n)), source="t",
                split_min_bytes=split_min_bytes,
            )
            for n in range(10)
        ]  # fmt: skip
    # Then most need no table lock, and each one holds exactly the transactions of the GTID set it
    # records, whichever way it got it
    assert caplog.text.count("the snapshot was taken under LOCK TABLES") < 5
    for manifest in manifests:
        assert manifest.snapshot.gtid is not None
        (table,) = manifest.tables
        assert table.rows == 1000 + transactions(manifest.snapshot.gtid) - start


def test_a_burst_of_commits_as_the_backup_starts_is_waited_out_without_a_lock(
    mysql_settings, binlog_db, tmp_path, caplog
):
    # Given a session committing without pause for 0.3 s, already one row into it
    start = transactions(executed(mysql_settings))
    with (
        inserting(mysql_settings, binlog_db, pause=0, first=1, seconds=0.3),
        caplog.at_level(logging.INFO),
    ):
        # When the database is backed up meanwhile
        manifest = backup_database(
            mysql_settings, binlog_db, LocalStorage(tmp_path), source="t", split_min_bytes=1
        )
    # Then its tries outlast the burst (each failed one waits a moment): a position without a table
    # lock, which holds exactly its GTID set's transactions
    assert "the snapshot was taken under LOCK TABLES" not in caplog.text
    assert manifest.snapshot.gtid is not None
    (table,) = manifest.tables
    assert table.rows == 1000 + transactions(manifest.snapshot.gtid) - start


def _gtids_owned(cur) -> str:
    cur.execute("SELECT @@global.gtid_owned")
    return str(cur.fetchone()[0])


def test_a_commit_the_binlog_holds_back_is_never_behind_the_recorded_position(
    mysql_settings, binlog_db, backup_user, tmp_path
):
    # Given a row whose commit is in the binary log but not yet in InnoDB (held in the log's sync stage)
    with commit_held_in_the_binlog(mysql_settings, binlog_db):
        # When the README's least-privileged user (its position read with SHOW BINARY LOG STATUS, which
        # does not wait for that commit) backs the database up meanwhile
        manifest = backup_database(backup_user, binlog_db, LocalStorage(tmp_path), source="t")
    # Then the backup does not hold the row, so it records no position: a position past the row's
    # events would have a point-in-time restore skip a row the backup lacks (this user may not LOCK
    # TABLES, the way that would have waited for the commit)
    (table,) = manifest.tables
    assert table.rows == 1000
    assert (manifest.snapshot.binlog_file, manifest.snapshot.binlog_pos, manifest.snapshot.gtid) == (
        None,
        None,
        None,
    )


def test_a_user_reading_log_status_waits_for_the_held_commit_and_keeps_its_position(
    mysql_settings, binlog_db, tmp_path
):
    # Given the same held commit, and a user with BACKUP_ADMIN (performance_schema.log_status)
    with commit_held_in_the_binlog(mysql_settings, binlog_db):
        # When it backs the database up meanwhile
        manifest = backup_database(mysql_settings, binlog_db, LocalStorage(tmp_path), source="t")
    # Then reading log_status waited for that commit: the row is in the backup, and so is its GTID in
    # the recorded position
    (table,) = manifest.tables
    assert table.rows == 1001
    assert manifest.snapshot.binlog_file is not None
    assert manifest.snapshot.gtid == executed(mysql_settings)
