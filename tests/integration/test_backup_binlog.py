"""On a server with the binary log on, a backup records where its snapshot stands in it (real MariaDB).

That position is what point-in-time recovery replays from, so it must be the snapshot's own: every
transaction before it is in the backup, none after it.
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any

import pytest

from cloudbackup.backup import backup_database
from cloudbackup.format.manifest import ServerInfo
from cloudbackup.mysql import shared_snapshot
from cloudbackup.mysql.connection import connect
from cloudbackup.mysql.shared_snapshot import open_shared_snapshot
from cloudbackup.mysql.snapshot import Snapshot
from cloudbackup.storage.local import LocalStorage
from tests.fixtures.mariadb import admin_connect
from tests.fixtures.numbers import numbers

pytestmark = pytest.mark.integration


@pytest.fixture
def binlog_db(binlog_server):
    """A database on the binlog server, with a table `t` (auto-increment id) of 1,000 rows."""
    name = f"cbt_binlog_{uuid.uuid4().hex[:8]}"
    with admin_connect(binlog_server) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}`")
        cur.execute(f"USE `{name}`")
        cur.execute("CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, v INT) ENGINE=InnoDB")
        cur.execute(f"INSERT INTO t (v) SELECT seq FROM {numbers(1000)}")
    yield name
    with admin_connect(binlog_server) as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")


def gtid_seq(gtid: str) -> int:
    """The sequence number of a single-domain GTID position such as 0-7-42."""
    (only,) = gtid.split(",")
    return int(only.split("-")[2])


def test_a_quiet_server_records_the_current_binlog_position(binlog_server, binlog_db, tmp_path, caplog):
    # Given a binlog server where nothing is being written
    with admin_connect(binlog_server) as conn, conn.cursor() as cur:
        cur.execute("SHOW MASTER STATUS")
        binlog_file, binlog_pos = cur.fetchone()[:2]
        cur.execute("SELECT @@gtid_binlog_pos")
        (gtid,) = cur.fetchone()
    # When the database is backed up (its table read on several connections)
    with caplog.at_level(logging.DEBUG, logger="cloudbackup.mysql.dump"):
        manifest = backup_database(
            binlog_server, binlog_db, LocalStorage(tmp_path), source="t", split_min_bytes=1
        )
    # Then the manifest holds that very position, file, offset and GTID
    assert "reading t on 4 connections" in caplog.text
    assert (manifest.snapshot.binlog_file, manifest.snapshot.binlog_pos) == (binlog_file, int(binlog_pos))
    assert manifest.snapshot.gtid == gtid


def test_the_position_matches_the_rows_while_writes_go_on(binlog_server, binlog_db, tmp_path):
    # Given a session inserting one row per transaction, without pause, from a known GTID on
    stop = threading.Event()
    inserted = threading.Semaphore(0)
    with admin_connect(binlog_server) as conn, conn.cursor() as cur:
        cur.execute("SELECT @@gtid_binlog_pos")
        start = gtid_seq(cur.fetchone()[0])

    def insert() -> None:
        with admin_connect(binlog_server, binlog_db) as conn, conn.cursor() as cur:
            while not stop.is_set():
                cur.execute("INSERT INTO t (v) VALUES (0)")
                inserted.release()

    writer = threading.Thread(target=insert, daemon=True)
    writer.start()
    try:
        for _ in range(200):
            assert inserted.acquire(timeout=30)
        # When the database is backed up meanwhile
        manifest = backup_database(binlog_server, binlog_db, LocalStorage(tmp_path), source="t")
    finally:
        stop.set()
        writer.join(timeout=30)
    # Then the backup holds exactly the transactions up to its recorded GTID: the 1,000 first rows
    # plus one row per insert committed before the snapshot
    assert manifest.snapshot.gtid is not None
    (table,) = manifest.tables
    assert table.rows == 1000 + gtid_seq(manifest.snapshot.gtid) - start
    assert table.rows >= 1000 + 200  # the 200 inserts awaited before the backup began


def test_a_commit_only_the_later_snapshots_see_fails_the_shared_snapshot(
    binlog_server, binlog_db, monkeypatch
):
    # Given a transaction counter that does not move (as for a commit that took its number before the
    # first reading and became visible only later, past the quiet pause), and a row committed by another
    # session just after the first connection's snapshot opened
    monkeypatch.setattr(shared_snapshot, "transaction_counter", lambda cur: 1)
    opened = shared_snapshot.start_snapshot

    def then_commit(cur: Any, server: ServerInfo, max_allowed_packet: int) -> Snapshot:
        snapshot = opened(cur, server, max_allowed_packet)
        with admin_connect(binlog_server, binlog_db) as other, other.cursor() as writer:
            writer.execute("INSERT INTO t (v) VALUES (0)")
        return snapshot

    monkeypatch.setattr(shared_snapshot, "start_snapshot", then_commit)
    # When the shared snapshot is tried on two connections
    with (
        connect(binlog_server, database=binlog_db) as first,
        connect(binlog_server, database=binlog_db) as second,
    ):
        _, shared = open_shared_snapshot(first, [second])
        with second.cursor() as cur:
            cur.execute("SELECT @@in_transaction")
            second_in_transaction = cur.fetchone()[0]
    # Then the second connection, whose snapshot holds the row the first one's lacks, is not used: the
    # two snapshots were taken at different places in the binary log
    assert not shared
    assert second_in_transaction == 0
