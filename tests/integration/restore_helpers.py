"""A small database with every kind of object, backed up into a local store, for restore tests."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cloudbackup.backup import backup_database
from cloudbackup.catalog import CatalogEntry, find_backup
from cloudbackup.dburl import DbSettings
from cloudbackup.storage.local import LocalStorage
from tests.fixtures.mariadb import admin_connect, flavour
from tests.fixtures.numbers import numbers


def shop(rows: int = 2000, *, sequence: bool = True) -> list[str]:
    """The shop's statements; `sequence`: with `seq`, a MariaDB sequence, as `parent.n`'s default."""
    n_default = " default nextval(seq)" if sequence else ""
    return [
        *(["CREATE SEQUENCE seq START WITH 10"] if sequence else []),
        f"CREATE TABLE parent (id int primary key, name varchar(20), n int{n_default})",
        "CREATE TABLE child (id int primary key, pid int, note text, "
        "CONSTRAINT fk_child_parent FOREIGN KEY (pid) REFERENCES parent (id))",
        "CREATE TABLE audit (id int auto_increment primary key, what varchar(50))",
        "CREATE TRIGGER child_ai AFTER INSERT ON child FOR EACH ROW "
        "INSERT INTO audit (what) VALUES (CONCAT('child ', NEW.id))",
        "CREATE VIEW v_child AS SELECT c.id, p.name FROM child c JOIN parent p ON p.id = c.pid",
        "CREATE FUNCTION f_double(x int) RETURNS int DETERMINISTIC RETURN x * 2",
        "CREATE EVENT ev_noop ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00' DISABLE "
        "DO DELETE FROM audit WHERE id < 0",
        f"INSERT INTO parent (id, name) SELECT seq, CONCAT('p', seq) FROM {numbers(200)}",
        f"INSERT INTO child SELECT seq, 1 + seq % 200, REPEAT('x;''\\\\', seq % 50) FROM {numbers(rows)}",
    ]


def make_shop(settings: DbSettings, database: str, rows: int = 2000) -> None:
    """The shop in `database`; on MySQL without the sequence, which only MariaDB has."""
    with admin_connect(settings, database) as conn, conn.cursor() as cur:
        for sql in shop(rows, sequence=flavour(settings) == "mariadb"):
            cur.execute(sql)


def back_up(settings: DbSettings, database: str, tmp_path: Path, compression: str = "zstd") -> CatalogEntry:
    store = LocalStorage(tmp_path / "data")
    manifest = backup_database(settings, database, store, source="test", compression=compression)  # type: ignore[arg-type]
    return find_backup([store], manifest.id)


def schemas_like(settings: DbSettings, prefix: str) -> list[str]:
    with admin_connect(settings) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE %s", (prefix + "%",)
        )
        return sorted(name for (name,) in cur.fetchall())


def refused_before_any_change(refused: Any, settings: DbSettings, target: str) -> str:
    """The message of a restore refused (`pytest.raises`'s ExceptionInfo) before any change: one line,
    saying so, and no database of `target`'s name made. Returned for the test's own assertions."""
    message = str(refused.value)
    assert "\n" not in message
    assert "refused before any change" in message
    assert schemas_like(settings, target) == []
    return message


def drop_schemas_like(settings: DbSettings, prefix: str) -> None:
    """Drop every database whose name starts with `prefix`: a target and whatever a restore left beside it."""
    with admin_connect(settings) as conn, conn.cursor() as cur:
        for schema in schemas_like(settings, prefix):
            cur.execute(f"DROP DATABASE IF EXISTS `{schema}`")


def change_live_data(settings: DbSettings, database: str) -> None:
    """What happened after the backup: rows, a dropped view, a new table, another trigger."""
    with admin_connect(settings, database) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO child VALUES (999999, 1, 'after the backup')")
        cur.execute("UPDATE parent SET name = 'changed' WHERE id = 1")
        cur.execute("DROP VIEW v_child")
        cur.execute("CREATE TABLE extra (id int primary key)")
        cur.execute(
            "CREATE TRIGGER parent_bu BEFORE UPDATE ON parent FOR EACH ROW SET NEW.name = UPPER(NEW.name)"
        )


PASSWORD = "target-Set-7!"


@contextmanager
def server_global(settings: DbSettings, name: str, value: str) -> Iterator[None]:
    """The server's GLOBAL `name` set to `value` for the block (new sessions start with it), then back."""
    with admin_connect(settings) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT @@GLOBAL.{name}")
        (previous,) = cur.fetchone()
        cur.execute(f"SET GLOBAL {name} = {value}")
    try:
        yield
    finally:
        with admin_connect(settings) as conn, conn.cursor() as cur:
            cur.execute(f"SET GLOBAL {name} = %s", (previous,))


@contextmanager
def restore_account(settings: DbSettings, target: str) -> Iterator[DbSettings]:
    """An account with every privilege on the target (and its staging databases) and nothing else:
    no SESSION_VARIABLES_ADMIN, SUPER or READ_ONLY ADMIN."""
    user = f"cb_ts_{secrets.token_hex(3)}"
    pattern = target.replace("_", "\\_") + "%"
    with admin_connect(settings) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{PASSWORD}'")
        cur.execute(f"GRANT ALL ON `{pattern}`.* TO '{user}'@'%'")
    try:
        yield DbSettings(settings.host, settings.port, user, PASSWORD)
    finally:
        with admin_connect(settings) as conn, conn.cursor() as cur:
            cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")
