"""Big tables read by key ranges on several connections that hold one snapshot (MariaDB and MySQL).

The other connections are used only when the shared snapshot is proved. The ranges must add up to
the table exactly. A transaction that spans ranges read on different connections must show whole or
not at all.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from types import SimpleNamespace

import pytest

from cloudbackup.backup import backup_database
from cloudbackup.catalog import find_backup
from cloudbackup.errors import OperationError
from cloudbackup.mysql import shared_snapshot
from cloudbackup.mysql.chunks import key_span
from cloudbackup.mysql.connection import connect
from cloudbackup.mysql.parallel import big_tables, split_span
from cloudbackup.mysql.rows import table_layouts
from cloudbackup.mysql.shared_snapshot import open_shared_snapshot
from cloudbackup.restore import restore_backup
from cloudbackup.storage.local import LocalStorage
from tests.fixtures.compare import assert_databases_equal
from tests.fixtures.mariadb import admin_connect, flavour
from tests.fixtures.numbers import numbers
from tests.integration.backup_helpers import Hook, assert_nothing_kept, commits_never_stop

pytestmark = pytest.mark.integration

ACCOUNTS = 40_000
OPENING_BALANCE = 100
SPLIT_ANY_TABLE = 1  # bytes: every InnoDB table with an integer key qualifies


@pytest.fixture
def bank(db_settings, make_database) -> str:
    """`accounts` (id 1..40000, each with 100) and a table with no integer key at its head."""
    name = make_database("par")
    with admin_connect(db_settings, name) as conn, conn.cursor() as cur:
        cur.execute(
            "CREATE TABLE accounts (id INT PRIMARY KEY, balance INT NOT NULL, note TEXT) ENGINE=InnoDB"
        )
        cur.execute(
            f"INSERT INTO accounts SELECT seq, {OPENING_BALANCE}, REPEAT('ab''\\\\', seq % 40)"
            f" FROM {numbers(ACCOUNTS)}"
        )
        cur.execute("CREATE TABLE by_code (code VARCHAR(10) PRIMARY KEY, n INT) ENGINE=InnoDB")
        cur.execute(f"INSERT INTO by_code SELECT CONCAT('c', seq), seq FROM {numbers(100)}")
        cur.execute("CREATE TABLE no_key (n INT) ENGINE=InnoDB")
        cur.execute(f"INSERT INTO no_key SELECT seq FROM {numbers(100)}")
    return name


@pytest.fixture
def transfers(db_settings, bank) -> Iterator[Callable[[], None]]:
    """start(): another session moves money from low accounts to high ones, one transaction per move,
    until the test ends; start() returns once 50 moves are committed. Every move keeps the total."""
    stop = threading.Event()
    moved = threading.Semaphore(0)

    def run() -> None:
        with admin_connect(db_settings, bank) as conn, conn.cursor() as cur:
            n = 0
            while not stop.is_set():
                n += 1
                low, high = 1 + n % 1000, ACCOUNTS - n % 1000
                cur.execute("BEGIN")
                cur.execute("UPDATE accounts SET balance = balance - 1 WHERE id = %s", (low,))
                cur.execute("UPDATE accounts SET balance = balance + 1 WHERE id = %s", (high,))
                cur.execute("COMMIT")
                moved.release()

    worker = threading.Thread(target=run, daemon=True)

    def start() -> None:
        worker.start()
        for _ in range(50):
            assert moved.acquire(timeout=30)

    yield start
    stop.set()
    if worker.is_alive():
        worker.join(timeout=30)
    assert worker.is_alive() is False


def test_a_table_filled_since_the_server_last_looked_at_it_counts_at_its_size(db_settings, make_database):
    # Given a table whose statistics were read while it was empty (MySQL caches them for a day)
    name = make_database("par_fresh")
    with admin_connect(db_settings, name) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(100))")
        cur.execute("SELECT DATA_LENGTH FROM information_schema.TABLES WHERE TABLE_NAME = 't'")
        cur.execute(f"INSERT INTO t SELECT seq, REPEAT('x', 100) FROM {numbers(50_000)}")
        # InnoDB recounts its pages in the background (within ~10 s of a big change): wait for that
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            cur.execute(
                "SELECT clustered_index_size FROM mysql.innodb_table_stats"
                " WHERE database_name = %s AND table_name = 't'",
                (name,),
            )
            row = cur.fetchone()
            if row and row[0] * 16384 >= 4 << 20:
                break
            time.sleep(0.5)
    # When the backup asks which tables are big, on a new connection as it does
    with admin_connect(db_settings, name) as conn, conn.cursor() as cur:
        found = big_tables(cur, name, 2 << 20)
    # Then the table's real size (~6 MB) counts, not the cached empty one
    assert found == {"t"}


def test_only_big_innodb_tables_keyed_by_an_integer_are_cut(db_settings, bank):
    with admin_connect(db_settings, bank) as conn, conn.cursor() as cur:
        assert big_tables(cur, bank, SPLIT_ANY_TABLE) == {"accounts", "by_code", "no_key"}
        assert big_tables(cur, bank, 1 << 40) == set()
        layouts = table_layouts(cur, bank)
        spans = {t: key_span(cur, bank, t, layouts[t]) for t in ("accounts", "by_code", "no_key")}
        assert spans["by_code"] is None
        assert spans["no_key"] is None
        span = spans["accounts"]
        assert span is not None
        # And the ranges hold every row of the table once
        counts = []
        for part in split_span(span, 4):
            cur.execute(f"SELECT COUNT(*) FROM accounts {part.where()}")
            counts.append(cur.fetchone()[0])
    assert (span.column, span.low, span.high) == ("id", 0, ACCOUNTS)
    assert len(counts) == 4
    assert sum(counts) == ACCOUNTS
    assert min(counts) > ACCOUNTS // 5


def test_a_quiet_server_shares_the_snapshot(db_settings, bank):
    # Given three dump connections and no other writer
    with (
        connect(db_settings, database=bank) as first,
        connect(db_settings, database=bank) as second,
        connect(db_settings, database=bank) as third,
    ):
        # When the shared snapshot is opened
        _, shared = open_shared_snapshot(first, [second, third])
        # Then all hold it: a row committed afterwards is seen by none
        assert shared
        with admin_connect(db_settings, bank) as other, other.cursor() as cur:
            cur.execute("UPDATE accounts SET balance = 0 WHERE id = 1")
        for conn in (first, second, third):
            with conn.cursor() as cur:
                cur.execute("SELECT balance FROM accounts WHERE id = 1")
                assert cur.fetchone() == (OPENING_BALANCE,)


def test_only_mariadb_waits_a_quiet_pause_before_the_snapshots(db_settings, bank, monkeypatch):
    # Given the proof's pauses recorded instead of slept
    pauses: list[float] = []
    monkeypatch.setattr(shared_snapshot, "time", SimpleNamespace(sleep=pauses.append))
    # When a shared snapshot opens on a quiet server
    with connect(db_settings, database=bank) as first, connect(db_settings, database=bank) as second:
        _, shared = open_shared_snapshot(first, [second])
    # Then it is shared; MariaDB's counter needed the pause for a commit not yet visible, and MySQL's
    # witness asks whether a commit is under way instead, so it takes none
    assert shared
    assert pauses == ([] if flavour(db_settings) == "mysql" else [shared_snapshot.QUIET_SECONDS])


def test_a_busy_server_falls_back_to_one_connection(db_settings, bank, transfers, monkeypatch):
    # Given another session committing all the time (and no table lock offered)
    commits_never_stop(monkeypatch)
    transfers()
    with connect(db_settings, database=bank) as first, connect(db_settings, database=bank) as second:
        # When the shared snapshot is tried
        snapshot, shared = open_shared_snapshot(first, [second])
        # Then it is refused, and the first connection still holds a snapshot of its own
        assert not shared
        assert snapshot.server.flavour == flavour(db_settings)
        assert in_transaction(first)
        assert not in_transaction(second)


def test_a_busy_mysql_server_shares_the_snapshot_under_a_brief_table_lock(
    db_settings, bank, transfers, make_database, tmp_path, caplog, monkeypatch
):
    # Given transfers between low and high accounts committing all the time, before the backup starts
    commits_never_stop(monkeypatch)
    transfers()
    store = LocalStorage(tmp_path)
    # When the database is backed up, its tables cut for several connections
    with caplog.at_level(logging.DEBUG, logger="cloudbackup"):
        manifest = backup_database(db_settings, bank, store, source="t", split_min_bytes=SPLIT_ANY_TABLE)
    # Then MySQL, whose lock-free proof fails, reads on four connections holding one snapshot taken
    # under LOCK TABLES … READ, with its position; MariaDB's path is unchanged: it never locks
    mysql = flavour(db_settings) == "mysql"
    assert ("the snapshot was taken under LOCK TABLES" in caplog.text) is mysql
    if mysql:
        assert "reading accounts on 4 connections" in caplog.text
        assert manifest.snapshot.binlog_file is not None
    # And the restored accounts hold exactly the opening total: no transfer is half in the backup
    target = make_database("par_busy")
    restore_backup(db_settings, find_backup([store], manifest.id), target_database=target)
    with admin_connect(db_settings, target) as conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT(*), SUM(balance) FROM accounts")
        assert cur.fetchone() == (ACCOUNTS, ACCOUNTS * OPENING_BALANCE)


def in_transaction(conn) -> bool:
    """Whether `conn` has an InnoDB transaction open (MySQL has no @@in_transaction)."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT COUNT(*) FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id = CONNECTION_ID()"
        )
        return bool(cur.fetchone()[0])


def test_a_table_read_on_several_connections_restores(db_settings, bank, make_database, tmp_path, caplog):
    # Given a backup that reads every table it can cut on several connections
    store = LocalStorage(tmp_path)
    with caplog.at_level(logging.DEBUG, logger="cloudbackup.mysql.dump"):
        manifest = backup_database(db_settings, bank, store, source="t", split_min_bytes=SPLIT_ANY_TABLE)
    assert "reading accounts on 4 connections" in caplog.text
    assert {t.name: t.rows for t in manifest.tables} == {"accounts": ACCOUNTS, "by_code": 100, "no_key": 100}
    # When it is restored into another database
    target = make_database("par_back")
    restore_backup(db_settings, find_backup([store], manifest.id), target_database=target)
    # Then every row and object is back
    assert_databases_equal(db_settings, bank, target)


def server_slots(settings) -> tuple[int, int]:
    """(max_connections, connections it has refused so far for being full)."""
    with admin_connect(settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT @@GLOBAL.max_connections")
        (limit,) = cur.fetchone()
        cur.execute("SHOW GLOBAL STATUS LIKE 'Connection_errors_max_connections'")
        return int(limit), int(cur.fetchone()[1])


def test_jobs_past_the_servers_spare_slots_leave_its_last_connections_free(
    db_settings, bank, make_database, tmp_path, caplog
):
    # Given an operator asking for as many connections as the server has slots (`--jobs 150` for 15)
    limit, refused_before = server_slots(db_settings)
    store = LocalStorage(tmp_path)
    # When a backup cuts its big table over them, and a restore loads the backup with as many
    with caplog.at_level(logging.DEBUG):
        manifest = backup_database(
            db_settings, bank, store, source="t", split_min_bytes=SPLIT_ANY_TABLE, jobs=limit
        )
        target = make_database("slots")
        restore_backup(db_settings, find_backup([store], manifest.id), target_database=target, jobs=limit)
    # Then both took fewer and said so, the server refused nobody a connection, and the copy is whole
    said = "connection(s) of the {} asked for: the server's last slots stay free"
    assert re.search(r"reading with \d+ " + re.escape(said.format(limit)), caplog.text)
    assert re.search(r"loading on \d+ " + re.escape(said.format(limit)), caplog.text)
    assert server_slots(db_settings)[1] == refused_before
    assert_databases_equal(db_settings, bank, target)


def test_one_job_reads_every_table_on_one_connection(db_settings, bank, tmp_path, caplog):
    # Given a backup limited to one connection, of tables it could otherwise cut
    with caplog.at_level(logging.DEBUG, logger="cloudbackup.mysql.dump"):
        manifest = backup_database(
            db_settings, bank, LocalStorage(tmp_path), source="t", split_min_bytes=SPLIT_ANY_TABLE, jobs=1
        )
    # Then no table is read on several connections, and every row is there
    assert "connections" not in caplog.text
    assert {t.name: t.rows for t in manifest.tables} == {"accounts": ACCOUNTS, "by_code": 100, "no_key": 100}


def test_transactions_across_connections_are_whole_in_the_backup(
    db_settings, bank, transfers, make_database, tmp_path, caplog
):
    # Given transfers between low and high accounts, committing from the moment the snapshot is open
    # (so before either half's query starts)
    store = LocalStorage(tmp_path)
    # When the backup reads `accounts` on several connections meanwhile
    with caplog.at_level(logging.DEBUG, logger="cloudbackup.mysql.dump"):
        manifest = backup_database(
            db_settings,
            bank,
            store,
            source="t",
            split_min_bytes=SPLIT_ANY_TABLE,
            progress=Hook(on_begin=transfers),
        )
    assert "reading accounts on 4 connections" in caplog.text
    # Then the restored accounts hold exactly the opening total: no transfer is half in the backup
    target = make_database("par_tx")
    restore_backup(db_settings, find_backup([store], manifest.id), target_database=target)
    with admin_connect(db_settings, target) as conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT(*), SUM(balance) FROM accounts")
        assert cur.fetchone() == (ACCOUNTS, ACCOUNTS * OPENING_BALANCE)


def test_losing_a_helper_connection_fails_and_keeps_nothing(db_settings, busy_db, tmp_path):
    # Given a table big enough (~40 MB as SQL) to be still being read when the first rows are written,
    # and a backup reading it on several connections, the last of which is then killed
    store = LocalStorage(tmp_path)

    def kill_last_connection() -> None:
        with admin_connect(db_settings) as conn, conn.cursor() as cur:
            cur.execute("SELECT MAX(ID) FROM information_schema.PROCESSLIST WHERE DB = %s", (busy_db,))
            (thread,) = cur.fetchone()  # the dump's connections are on its database; this is the last opened
            cur.execute(f"KILL CONNECTION {int(thread)}")

    # When the backup goes on
    with pytest.raises(OperationError, match="lost the connection") as failure:
        backup_database(
            db_settings,
            busy_db,
            store,
            source="t",
            split_min_bytes=SPLIT_ANY_TABLE,
            progress=Hook(on_rows=kill_last_connection),
        )
    # Then it fails with one line and nothing is listed or left behind
    assert "\n" not in str(failure.value)
    assert_nothing_kept(store, tmp_path)
