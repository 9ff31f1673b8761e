"""A table's rows as INSERT statements: exact values, formatted by the server, streamed.

Each row is turned into one SQL literal `(v1,v2,…)` by the server itself (CONCAT of QUOTE/HEX/…
per column), read off the wire in batches (mysql/wire.py) and packed into INSERT statements that stay
under the statement limit. Nothing is decoded in Python and memory does not grow with the table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pymysql.cursors

from cloudbackup.errors import OperationError
from cloudbackup.mysql.identifiers import quote_identifier
from cloudbackup.mysql.wire import ValueTooLarge, iter_values

# Statements stay under the server's max_allowed_packet and under the stock mysql client's default
# (16 MiB), minus room for the protocol; rows are packed up to ~1 MiB per statement, which loads fast
# and keeps every buffer small.
CLIENT_PACKET_LIMIT = 16 << 20
PACKET_MARGIN = 16 << 10
STATEMENT_TARGET = 1 << 20

# Text in these character sets reaches the dump as UTF-8 without conversion; any other character set
# is written as hex with an introducer, so every byte comes back exactly.
UTF8_CHARSETS = frozenset({"utf8mb4", "utf8mb3", "utf8", "ascii"})
PLAIN_TYPES = frozenset({"tinyint", "smallint", "mediumint", "int", "bigint", "decimal", "year", "double"})
TEXT_TYPES = frozenset(
    {"char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set", "json"}
)
HEX_TYPES = frozenset({"binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"})
SPATIAL_TYPES = frozenset(
    {
        "geometry",
        "point",
        "linestring",
        "polygon",
        "multipoint",
        "multilinestring",
        "multipolygon",
        "geometrycollection",
        "geomcollection",
    }
)


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str  # information_schema DATA_TYPE, lower case
    charset: str | None
    nullable: bool


def statement_limit(max_allowed_packet: int) -> int:
    return min(max_allowed_packet, CLIENT_PACKET_LIMIT) - PACKET_MARGIN


def table_columns(cur: Any, database: str, table: str) -> list[Column]:
    """The columns an INSERT must name: every stored column, invisible ones included, none generated."""
    cur.execute(
        "SELECT COLUMN_NAME, DATA_TYPE, CHARACTER_SET_NAME, IS_NULLABLE, IS_GENERATED"
        " FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s"
        " ORDER BY ORDINAL_POSITION",
        (database, table),
    )
    return [
        Column(name=name, data_type=dtype.lower(), charset=cs, nullable=n == "YES")
        for name, dtype, cs, n, generated in cur.fetchall()
        if generated != "ALWAYS"
    ]


def value_expression(col: Column) -> str:
    """SQL that renders `col` as an exact literal (NULL included)."""
    c = quote_identifier(col.name)
    t = col.data_type
    if t in PLAIN_TYPES:
        expr = c  # integers, DECIMAL and DOUBLE print exactly (DOUBLE in its shortest round-trip form)
    elif t == "float":
        expr = f"CAST({c} AS DOUBLE)"  # a FLOAT prints with ~6 digits; as DOUBLE it prints exactly
    elif t == "bit":
        expr = f"CONCAT('b''',BIN({c}),'''')"
    elif t in HEX_TYPES:
        expr = f"CONCAT('X''',HEX({c}),'''')"  # X'' is also a valid empty value, 0x is not
    elif t in SPATIAL_TYPES:
        expr = f"CONCAT('0x',HEX({c}))"  # the internal value: SRID + WKB, as mysqldump writes it
    elif t in TEXT_TYPES and col.charset is not None and col.charset not in UTF8_CHARSETS:
        expr = f"CONCAT('_{col.charset} X''',HEX({c}),'''')"
    else:
        return f"QUOTE({c})"  # text, JSON, temporal, INET/UUID: QUOTE keeps NULL as NULL
    return f"IFNULL({expr},'NULL')" if col.nullable else expr


def row_query(database: str, table: str, columns: list[Column]) -> str:
    parts = ",',',".join(value_expression(col) for col in columns)
    return f"SELECT CONCAT('(',{parts},')') FROM {quote_identifier(database)}.{quote_identifier(table)}"


def insert_prefix(table: str, columns: list[Column]) -> bytes:
    names = ",".join(quote_identifier(col.name) for col in columns)
    return f"INSERT INTO {quote_identifier(table)} ({names}) VALUES ".encode()


def iter_inserts(
    conn: Any,
    database: str,
    table: str,
    columns: list[Column],
    *,
    limit: int,
    target: int = STATEMENT_TARGET,
    check: Callable[[], None] | None = None,
) -> Iterator[tuple[bytes, int]]:
    """(`INSERT …;\\n` statement, rows in it), each statement at most `limit` bytes.

    `check` runs between batches (cancellation). A row that cannot fit a statement raises
    OperationError: writing it would give a dump the server refuses to load.
    """
    if not columns:
        return
    prefix = insert_prefix(table, columns)
    overhead = len(prefix) + 2  # ";\n"
    fill = min(target, limit)
    cur = conn.cursor(pymysql.cursors.SSCursor)
    try:
        cur.execute(row_query(database, table, columns))
        pending: list[bytes] = []
        size = overhead
        try:
            for values in iter_values(cur):
                if check is not None:
                    check()
                for value in values:
                    if value is None:
                        raise _too_large(table, limit)
                    grown = size + len(value) + 1
                    if grown > fill and pending:
                        yield prefix + b",".join(pending) + b";\n", len(pending)
                        pending, size = [], overhead
                        grown = size + len(value) + 1
                    if grown > limit:
                        raise _too_large(table, limit)
                    pending.append(value)
                    size = grown
        except ValueTooLarge:
            raise _too_large(table, limit) from None
        if pending:
            yield prefix + b",".join(pending) + b";\n", len(pending)
    finally:
        cur.close()


def _too_large(table: str, limit: int) -> OperationError:
    # The server returns NULL for a CONCAT longer than its max_allowed_packet; either way the row
    # cannot travel as one statement.
    return OperationError(
        f"table {table!r} has a row larger than {limit:,} bytes once written as SQL; "
        "raise max_allowed_packet on the server to back it up"
    )
