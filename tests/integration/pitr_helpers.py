"""Servers with the binary log on, a workload touching two databases, and a reference copy taken at T."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from cloudbackup.backup import backup_database
from cloudbackup.binlog.archive import archive_binlog
from cloudbackup.binlog.replay import segment_events
from cloudbackup.binlog.segments import read_indexes
from cloudbackup.dburl import DbSettings
from cloudbackup.storage.base import Storage
from tests.fixtures.compare import q
from tests.fixtures.mariadb import admin_connect
from tests.fixtures.numbers import numbers


def run(settings: DbSettings, *statements: str, database: str | None = None) -> None:
    with admin_connect(settings, database) as conn, conn.cursor() as cur:
        for sql in statements:
            cur.execute(sql)


def create_shop(settings: DbSettings, db: str, other: str) -> None:
    """Exact values (FLOAT bits, JSON, binary), a trigger writing an audit table, another database."""
    run(
        settings,
        f"CREATE TABLE {q(db)}.item (id INT PRIMARY KEY, f FLOAT, d DOUBLE, j JSON, b VARBINARY(16), "
        "name VARCHAR(40)) ENGINE=InnoDB",
        f"CREATE TABLE {q(db)}.audit (id INT AUTO_INCREMENT PRIMARY KEY, what VARCHAR(60)) ENGINE=InnoDB",
        f"INSERT INTO {q(db)}.item VALUES "
        + ", ".join(
            f"({i}, {i}.1e-3 / 3, {i} / 7, '{{\"k\": {i}}}', UNHEX('00ff{i:04x}'), 'item {i}')"
            for i in range(1, 41)
        ),
        f"CREATE TABLE {q(other)}.o (id INT PRIMARY KEY, v INT) ENGINE=InnoDB",
        f"INSERT INTO {q(other)}.o VALUES (1, 1), (2, 2), (3, 3)",
    )
    run(
        settings,
        "CREATE TRIGGER item_au AFTER UPDATE ON item FOR EACH ROW "
        "INSERT INTO audit (what) VALUES (CONCAT('update ', NEW.id))",
        database=db,
    )


def shop_backed_up(settings: DbSettings, make_database: Any, store: Storage, stem: str) -> tuple[str, str]:
    """A shop database and another one (create_shop), the shop backed up into `store` as source "src"."""
    db, other = make_database(stem), make_database(stem + "_other")
    create_shop(settings, db, other)
    backup_database(settings, db, store, source="src")
    return db, other


def first_changes(settings: DbSettings, db: str, other: str) -> None:
    """DML: multi-row updates (firing the trigger), deletes in a transaction that also writes elsewhere."""
    with admin_connect(settings) as conn, conn.cursor() as cur:
        cur.execute(f"UPDATE {q(db)}.item SET name = CONCAT(name, ' v2'), f = f * 3 WHERE id <= 10")
        cur.execute("BEGIN")
        cur.execute(f"DELETE FROM {q(db)}.item WHERE id BETWEEN 30 AND 34")
        cur.execute(f"INSERT INTO {q(other)}.o VALUES (4, 4)")
        cur.execute(f"UPDATE {q(other)}.o SET v = v + 10")
        cur.execute(f"DELETE FROM {q(db)}.item WHERE id = 40")
        cur.execute("COMMIT")
        # One statement changing both databases: its last rows event is the other database's.
        cur.execute(
            f"UPDATE {q(db)}.item i JOIN {q(other)}.o o ON o.id = i.id SET i.d = i.d + o.v, o.v = o.v + 1"
        )


def second_changes(settings: DbSettings, db: str, other: str) -> None:
    """DDL (ADD COLUMN, CREATE TABLE) and rows written after it, again beside the other database."""
    with admin_connect(settings, db) as conn, conn.cursor() as cur:
        cur.execute("ALTER TABLE item ADD COLUMN qty INT NOT NULL DEFAULT 7")
        cur.execute("CREATE TABLE extra (k VARCHAR(10) PRIMARY KEY, v DOUBLE)")
        cur.execute("BEGIN")
        cur.execute("INSERT INTO extra VALUES ('a', 0.1), ('b', 1e-300), ('c', -0.0)")
        cur.execute("UPDATE item SET qty = id * 2, j = JSON_SET(j, '$.q', id) WHERE id > 20")
        cur.execute(f"INSERT INTO {q(other)}.o VALUES (5, 5)")
        cur.execute("COMMIT")


def next_second() -> datetime:
    """Wait for the next whole second and return it: every event before has an earlier timestamp."""
    now = time.time()
    target = int(now) + 1
    time.sleep(target - now + 0.05)
    return datetime.fromtimestamp(target, UTC)


def bulk_insert_archived(settings: DbSettings, db: str, store: Storage) -> datetime:
    """`db` archived and backed up, then one INSERT … SELECT of 45,000 rows (~7 MiB of row events: many
    BINLOG statements' worth) and a row after it, archived: returns a time between the two."""
    run(settings, "CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(200))", database=db)
    archive_binlog(settings, store, "src")
    backup_database(settings, db, store, source="src")
    run(
        settings,
        f"INSERT INTO t SELECT seq, REPEAT(CHAR(65 + seq % 26), 150) FROM {numbers(45000)}",
        database=db,
    )
    to_time = next_second()
    run(settings, "INSERT INTO t VALUES (0, 'after T')", database=db)  # (the archive reaches past T)
    archive_binlog(settings, store, "src")
    return to_time


def reference_copy(settings: DbSettings, db: str, ref: str) -> None:
    """The database as it is now, copied on the server (CREATE TABLE … LIKE + INSERT … SELECT, triggers)."""
    with admin_connect(settings) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = %s AND table_type = 'BASE TABLE'",
            (db,),
        )
        for (table,) in cur.fetchall():
            cur.execute(f"CREATE TABLE {q(ref)}.{q(table)} LIKE {q(db)}.{q(table)}")
            cur.execute(f"INSERT INTO {q(ref)}.{q(table)} SELECT * FROM {q(db)}.{q(table)}")
        cur.execute("SELECT trigger_name FROM information_schema.triggers WHERE trigger_schema = %s", (db,))
        triggers = [name for (name,) in cur.fetchall()]
        cur.execute(f"USE {q(ref)}")
        for name in triggers:
            cur.execute(f"SHOW CREATE TRIGGER {q(db)}.{q(name)}")
            row = cur.fetchone()
            cur.execute("SET SESSION sql_mode = %s", (row[1],))
            cur.execute(row[2])


def disaster(settings: DbSettings, db: str, other: str) -> None:
    run(
        settings,
        f"DELETE FROM {q(db)}.item",
        f"DROP TABLE {q(db)}.extra",
        f"INSERT INTO {q(other)}.o VALUES (6, 6)",
    )


def archived_positions(store: Storage, source: str) -> dict[str, list[int]]:
    """Per binlog file, where each archived event starts, read back from every committed segment."""
    found: dict[str, list[int]] = {}
    for segment in read_indexes(store, source):
        found.setdefault(segment.binlog_file, []).extend(e.start for e in segment_events(store, segment))
    return found


def server_positions(settings: DbSettings, binlog_file: str) -> list[int]:
    """Where each event of a binlog file starts, as the server lists them. (Their Info column as bytes: a
    statement logged from a latin1 session is not UTF-8.)"""
    with admin_connect(settings, use_unicode=False) as conn, conn.cursor() as cur:
        cur.execute(f"SHOW BINLOG EVENTS IN '{binlog_file}'")
        return [int(row[1]) for row in cur.fetchall()]


class FailingIndexWrites:
    """A store whose index writes fail from the n-th on: a run killed between a segment and its index."""

    def __init__(self, store: Storage, fail_from: int) -> None:
        self.store, self.left = store, fail_from

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def put_bytes(self, key: str, data: bytes) -> None:
        self.left -= 1
        if self.left <= 0:
            raise KeyboardInterrupt  # killed
        self.store.put_bytes(key, data)


def schema_exists(settings: DbSettings, name: str) -> bool:
    with admin_connect(settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = %s", (name,))
        return bool(cur.fetchone()[0])
