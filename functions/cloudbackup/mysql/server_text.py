"""Read the server's own text of an object (SHOW CREATE ...) as bytes, in the character set it needs.

An object created by a latin1 client must be written back in latin1 under `character_set_client =
latin1`; the server converts its stored text for us when `character_set_results` says so. Results are
read as bytes whatever the caller's connection decodes, and every session change is undone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from weakref import WeakKeyDictionary

from cloudbackup.errors import OperationError
from cloudbackup.mysql.identifiers import quote_identifier, setting_literal, setting_name

Row = dict[str, Any]

# SHOW CREATE output does not depend on these when they are fixed: neutral quoting (no ANSI_QUOTES).
SHOW_SQL_MODE = ""


# The (charset, sql_mode) a connection is in while inside raw_results: a nested block asking for the
# same needs no round trips (a dump reads hundreds of objects under one block).
_ACTIVE: WeakKeyDictionary[Any, tuple[str, str]] = WeakKeyDictionary()


@contextmanager
def raw_results(cur: Any, *, charset: str = "utf8mb4", sql_mode: str = SHOW_SQL_MODE) -> Iterator[None]:
    """Within the block: text results are bytes in `charset`, and sql_mode is `sql_mode`.

    Blocks nest: an inner block with the same settings costs nothing, another one sets and restores.
    """
    conn = cur.connection
    wanted = (charset, sql_mode)
    outer = _ACTIVE.get(conn)
    if outer == wanted:
        yield
        return
    cur.execute("SELECT @@character_set_results, @@sql_mode")
    ((saved_results, saved_mode),) = cur.fetchall()  # all of it: the cursor may be unbuffered
    cur.execute(
        f"SET character_set_results = {setting_name(charset)}, sql_mode = {setting_literal(sql_mode)}"
    )
    saved_unicode = conn.use_unicode
    conn.use_unicode = False  # pymysql reads this per result: bytes, never decoded with the wrong codec
    _ACTIVE[conn] = wanted
    try:
        yield
    finally:
        if outer is None:
            _ACTIVE.pop(conn, None)
        else:
            _ACTIVE[conn] = outer
        conn.use_unicode = saved_unicode
        cur.execute(
            "SET character_set_results = %s, sql_mode = %s", (_text(saved_results), _text(saved_mode))
        )


def query(cur: Any, sql: str, args: Sequence[Any] | None = None) -> list[Row]:
    """Rows as dicts by column name, text as bytes (call inside raw_results).

    Name information_schema columns with an alias: MySQL 8 reports them in upper case otherwise.
    """
    cur.execute(sql, args)
    columns = [d[0] for d in cur.description]
    return [dict(zip(columns, row, strict=True)) for row in cur.fetchall()]


def text(value: Any) -> str:
    """A metadata value (name, sql_mode, charset) as str."""
    return _text(value) or ""


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return bytes(value).decode("utf-8", "surrogateescape")


def show_create(cur: Any, kind: str, name: str) -> Row:
    """One SHOW CREATE row, text in the character set its object was created with.

    The statement itself is under the key "statement", whatever the server calls the column.
    """
    with raw_results(cur):
        row = _show(cur, kind, name)
    client = text(row.get("character_set_client", b"utf8mb4"))
    if client not in ("utf8mb4", "binary"):
        with raw_results(cur, charset=client):
            row = _show(cur, kind, name)
    return row


def _show(cur: Any, kind: str, name: str) -> Row:
    rows = query(cur, f"SHOW CREATE {kind} {quote_identifier(name)}")
    row = rows[0]
    for column in list(row):
        if column.startswith("Create ") or column == "SQL Original Statement":
            if row[column] is None:  # a routine whose body the server hides from this user
                raise OperationError(
                    f"cannot read the definition of {kind.lower()} {quote_identifier(name)}: the server "
                    "hides it from this account; grant it SELECT on mysql.proc (MariaDB before 11.3), "
                    "SHOW CREATE ROUTINE (MariaDB 11.3+) or global SELECT (MySQL 8)"
                )
            row["statement"] = bytes(row[column])
    return row


def current_database(cur: Any) -> str:
    """The caller's current database (dump sessions `USE` it, so SHOW CREATE output is unqualified)."""
    with raw_results(cur):
        (row,) = query(cur, "SELECT DATABASE() AS db")
    return text(row["db"])


def prepares_any_statement(cur: Any) -> bool:
    """MariaDB 10.6.2+ prepares every statement (CREATE PROCEDURE/TRIGGER/EVENT included)."""
    with raw_results(cur):
        (row,) = query(cur, "SELECT VERSION() AS v")
    return version_prepares_any_statement(text(row["v"]))


def version_prepares_any_statement(version: str) -> bool:
    numbers = re.match(r"(\d+)\.(\d+)\.(\d+)", version)
    if "mariadb" not in version.lower() or numbers is None:
        return False
    return tuple(int(n) for n in numbers.groups()) >= (10, 6, 2)


def database_collation(cur: Any) -> str:
    with raw_results(cur):
        (row,) = query(cur, "SELECT @@collation_database AS c")
    return text(row["c"])
