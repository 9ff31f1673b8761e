"""On MySQL (binary log and GTIDs on), a backup records its snapshot's own position (real MySQL 9.7).

MySQL has no binlog_snapshot_file: the position is the binary log's, read before and after the
snapshots open and kept only when it did not move (mysql/shared_snapshot.py). So every transaction in
the recorded GTID set is in the backup, and none after it, or no position is recorded at all.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from cloudbackup.backup import backup_database
from cloudbackup.dburl import DbSettings, parse_db_url
from cloudbackup.storage.local import LocalStorage
from tests.fixtures.mariadb import admin_connect
from tests.fixtures.numbers import numbers

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


def _writer(
    settings: DbSettings, database: str, pause: float
) -> tuple[threading.Thread, threading.Event, threading.Semaphore]:
    """A session inserting one row per transaction, `pause` seconds apart, until stopped."""
    stop = threading.Event()
    inserted = threading.Semaphore(0)

    def insert() -> None:
        with admin_connect(settings, database) as conn, conn.cursor() as cur:
            while not stop.is_set():
                cur.execute("INSERT INTO t (v) VALUES (0)")
                inserted.release()
                time.sleep(pause)

    writer = threading.Thread(target=insert, daemon=True)
    writer.start()
    return writer, stop, inserted


@pytest.mark.parametrize("split_min_bytes", [1, 1 << 40], ids=["four-connections", "one-connection"])
def test_the_gtid_set_matches_the_rows_while_writes_go_on(
    mysql_settings, binlog_db, tmp_path, split_min_bytes
):
    # Given a session committing one row per transaction, a few times a second, from a known GTID set on
    start = transactions(executed(mysql_settings))
    writer, stop, inserted = _writer(mysql_settings, binlog_db, pause=0.15)
    try:
        for _ in range(10):
            assert inserted.acquire(timeout=30)
        # When the database is backed up meanwhile
        manifest = backup_database(
            mysql_settings, binlog_db, LocalStorage(tmp_path), source="t", split_min_bytes=split_min_bytes
        )
    finally:
        stop.set()
        writer.join(timeout=30)
    # Then it holds exactly the transactions up to its recorded GTID set: the 1,000 first rows plus
    # one row per insert in the set
    assert manifest.snapshot.gtid is not None
    assert manifest.snapshot.binlog_file is not None
    (table,) = manifest.tables
    assert table.rows == 1000 + transactions(manifest.snapshot.gtid) - start
    assert table.rows >= 1000 + 10


def test_a_server_that_never_pauses_gets_no_position_rather_than_a_wrong_one(
    mysql_settings, binlog_db, tmp_path
):
    # Given a session committing one row per transaction without pause
    start = transactions(executed(mysql_settings))
    writer, stop, inserted = _writer(mysql_settings, binlog_db, pause=0)
    try:
        for _ in range(200):
            assert inserted.acquire(timeout=30)
        # When the database is backed up meanwhile
        manifest = backup_database(mysql_settings, binlog_db, LocalStorage(tmp_path), source="t")
    finally:
        stop.set()
        writer.join(timeout=30)
    # Then the backup has every row up to the snapshot, and a position only if it is the snapshot's
    (table,) = manifest.tables
    assert table.rows >= 1000 + 200
    if manifest.snapshot.gtid is not None:
        assert table.rows == 1000 + transactions(manifest.snapshot.gtid) - start
