"""A table's rows as INSERT statements: exact values, formatted by the server, streamed.

Each row is turned into one SQL literal `(v1,v2,…)` by the server itself (CONCAT of QUOTE/HEX/…
per column), read off the wire in batches (mysql/wire.py) and packed into INSERT statements that stay
under the statement limit. Nothing is decoded in Python and memory does not grow with the table; the
one touch-up done here (raw CR/LF to `\r`/`\n`, see `escape_line_breaks`) runs on whole batches.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

import pymysql.cursors

from cloudbackup.errors import OperationError
from cloudbackup.mysql.identifiers import quote_identifier
from cloudbackup.mysql.server_text import text
from cloudbackup.mysql.wire import iter_values

# Statements stay under the server's max_allowed_packet, minus room for the protocol. Rows are packed
# up to ~1 MiB per statement, which loads fast and keeps every buffer small; only a row larger than that
# gets a statement of its own, as long as it needs (the stock client loads one over its 16 MiB default
# with --max-allowed-packet, as for mysqldump's output).
PACKET_MARGIN = 16 << 10
STATEMENT_TARGET = 1 << 20

# Text in these character sets reaches the dump as UTF-8 without conversion; any other character set
# is written as hex with an introducer, so every byte comes back exactly.
UTF8_CHARSETS = frozenset({"utf8mb4", "utf8mb3", "utf8", "ascii"})
PLAIN_TYPES = frozenset({"tinyint", "smallint", "mediumint", "int", "bigint", "decimal", "year"})
TEXT_TYPES = frozenset(
    {"char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set", "json"}
)
# Text that can hold a raw CR or LF once QUOTEd; not JSON, whose text escapes them itself.
UTF8_TEXT_TYPES = TEXT_TYPES - {"json"}
# MySQL 9 VECTOR holds 4-byte floats: its bytes, as for binary strings (QUOTE refuses it).
HEX_TYPES = frozenset({"binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob", "vector"})
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
    return max_allowed_packet - PACKET_MARGIN


@dataclass(frozen=True)
class TableLayout:
    """What reading a table's rows needs to know of it."""

    columns: list[Column]  # the columns an INSERT must name, in order
    primary_key: tuple[str, ...]  # its columns in key order; empty without one, or if not a B-tree
    own_rows: bool = True  # False where the rows it shows are kept elsewhere (ROWS_ELSEWHERE)


# Engines whose rows belong to other tables: a MERGE table's to the tables it unites (restored with
# them; inserting them again would write each row twice), FEDERATED's and SPIDER's to other servers.
# Only the definition is backed up, as mysqldump and mariadb-dump do for MERGE and FEDERATED.
ROWS_ELSEWHERE = frozenset({"mrg_myisam", "federated", "spider"})


def table_layouts(cur: Any, database: str) -> dict[str, TableLayout]:
    """Every table's layout in `database`, in three queries (one per table costs ~2 ms each)."""
    columns = table_columns(cur, database)
    cur.execute(
        # Only a B-tree key reads a range by seeking: on a HASH key (MEMORY's default) every range
        # would scan the whole table.
        "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = %s"
        " AND INDEX_NAME = 'PRIMARY' AND INDEX_TYPE = 'BTREE' ORDER BY TABLE_NAME, SEQ_IN_INDEX",
        (database,),
    )
    keys: dict[str, list[str]] = {}
    for table, name in cur.fetchall():
        keys.setdefault(text(table), []).append(text(name))
    cur.execute(
        "SELECT TABLE_NAME, ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s"
        " AND TABLE_TYPE = 'BASE TABLE'",
        (database,),
    )
    elsewhere = {text(table) for table, engine in cur.fetchall() if text(engine).lower() in ROWS_ELSEWHERE}
    return {
        table: TableLayout(cols, tuple(keys.get(table, ())), own_rows=table not in elsewhere)
        for table, cols in columns.items()
    }


def table_columns(cur: Any, database: str, tables: Sequence[str] | None = None) -> dict[str, list[Column]]:
    """The columns an INSERT must name, by table: of every table in `database`, or of `tables`."""
    only = f" AND TABLE_NAME IN ({', '.join(['%s'] * len(tables))})" if tables else ""
    cur.execute(
        "SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, CHARACTER_SET_NAME, IS_NULLABLE, EXTRA"
        f" FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s{only}"
        " ORDER BY TABLE_NAME, ORDINAL_POSITION",
        (database, *(tables or ())),
    )
    columns: dict[str, list[Column]] = {}
    for table, name, dtype, cs, n, extra in cur.fetchall():
        listed = columns.setdefault(text(table), [])
        if not is_generated(text(extra)):
            listed.append(
                Column(
                    name=text(name),
                    data_type=text(dtype).lower(),
                    charset=cs and text(cs),
                    nullable=n == "YES",
                )
            )
    return columns


def is_generated(extra: str) -> bool:
    """From information_schema EXTRA, on MariaDB and MySQL alike. Virtual/stored generated columns and
    MariaDB's ROW START/END (shown as "STORED GENERATED, INVISIBLE") cannot be inserted; MySQL's
    DEFAULT_GENERATED (an expression default) can, and must keep its value."""
    upper = extra.upper()
    return "VIRTUAL GENERATED" in upper or "STORED GENERATED" in upper


def value_expression(col: Column) -> str:
    """SQL that renders `col` as an exact literal (NULL included)."""
    c = quote_identifier(col.name)
    t = col.data_type
    if t in PLAIN_TYPES:
        expr = c  # integers and DECIMAL print exactly
    elif t in ("double", "float"):
        # DOUBLE prints in its shortest round-trip form; a FLOAT prints with ~6 digits, as DOUBLE exactly.
        # A zero gets an exponent: `-0` would be read as the integer 0, `-0e0` is the negative zero.
        number = c if t == "double" else f"CAST({c} AS DOUBLE)"
        expr = f"IF({c}=0,CONCAT({number},'e0'),{number})"  # (no CONCAT for the others: cheaper)
    elif t == "bit":
        expr = f"CONCAT('b''',BIN({c}),'''')"
    elif t in HEX_TYPES:
        expr = f"CONCAT('X''',HEX({c}),'''')"  # X'' is also a valid empty value, 0x is not
    elif t in SPATIAL_TYPES:
        expr = f"CONCAT('0x',HEX({c}))"  # the internal value: SRID + WKB, as mysqldump writes it
    elif t in TEXT_TYPES and col.charset is not None and col.charset not in UTF8_CHARSETS:
        expr = f"CONCAT('_{col.charset} X''',HEX({c}),'''')"
    else:
        # UTF-8 text, JSON, temporal, INET/UUID: QUOTE keeps NULL as NULL. It escapes backslash, quote,
        # NUL and ^Z, bytes that never occur inside a multi-byte UTF-8 character, so its text is the
        # same bytes however the server walks the value (a CAST to BINARY first would cost MySQL a copy
        # of every value). It leaves CR and LF raw, which only text holds: escape_line_breaks rewrites
        # those on the client.
        return f"QUOTE({c})"
    # NULL is decided on the column, never on the expression: HEX() of a value past max_allowed_packet
    # returns NULL, which must surface as a row too large (the CONCAT turns NULL), never as a NULL value.
    return f"IF({c} IS NULL,'NULL',{expr})" if col.nullable else expr


def may_hold_line_breaks(columns: list[Column]) -> bool:
    """Whether a row literal of `columns` can hold a raw CR or LF (only QUOTEd UTF-8 text can)."""
    return any(c.data_type in UTF8_TEXT_TYPES and c.charset in UTF8_CHARSETS for c in columns)


def without_raw_line_breaks(literals: bytes) -> bytes:
    """Row literals with raw CR and LF written `\\r` and `\\n`, as mysqldump writes them.

    QUOTE() leaves CR and LF raw and the stock client drops a CR before LF, so both must be escapes.
    On the server a REPLACE per text column costs as much as the QUOTE itself (MySQL copies the value
    twice); here C-level bytes methods rewrite many rows at once, and text without a break is only
    scanned. A raw CR or LF only ever occurs inside a quoted string of a literal (every other part is
    digits, hex or escaped text), where the escape is the same value.
    """
    if b"\n" in literals or b"\r" in literals:
        return literals.replace(b"\r", b"\\r").replace(b"\n", b"\\n")
    return literals


def escape_line_breaks(batches: Iterable[list[bytes | None]]) -> Iterator[list[bytes | None]]:
    """Each batch of row literals through `without_raw_line_breaks`, joined for it and split again:
    NUL never occurs raw in a literal (QUOTE escapes it), so it keeps the rows apart meanwhile."""
    for values in batches:
        if None in values:  # a row the server could not build: pack_statements reports it
            yield values
            continue
        joined = b"\0".join(values)  # type: ignore[arg-type]  # no None left
        escaped = without_raw_line_breaks(joined)
        yield values if escaped is joined else list(escaped.split(b"\0"))


def row_expression(columns: list[Column]) -> str:
    """SQL that renders a row as its literal `(v1,v2,…)`."""
    parts = ",',',".join(value_expression(col) for col in columns)
    # A binary CONCAT: its parts are already ASCII, UTF-8 or hex, and nothing is converted between them.
    # The first part makes it so: a CAST is binary of implicit coercibility, as strong as a column's,
    # and binary wins a tie. (`_binary'('` is a literal, of weaker coercibility: the CONCAT was then
    # utf8mb4 text, which GROUP_CONCAT checks character by character as it copies each row: 7 % of a
    # dump's server CPU on MySQL, 11 % on MariaDB.) The server folds the constant once per query.
    return f"CONCAT(CAST('(' AS BINARY),{parts},')')"


def row_query(database: str, table: str, columns: list[Column], where: str = "") -> str:
    source = f"{quote_identifier(database)}.{quote_identifier(table)}"
    return f"SELECT {row_expression(columns)} FROM {source}" + (f" {where}" if where else "")


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
    where: str = "",
) -> Iterator[tuple[bytes, int]]:
    """(`INSERT …;\\n` statement, rows in it) for every row of `table`, each at most `limit` bytes.

    `where` (a WHERE clause) narrows the rows to part of the table.
    `check` runs between batches (cancellation). After an exception the connection is mid-result
    and must be closed.
    """
    if not columns:
        return
    cur = conn.cursor(pymysql.cursors.SSCursor)
    cur.execute(row_query(database, table, columns, where))
    values = iter_values(cur)
    batches: Iterable[list[bytes | None]] = values
    if may_hold_line_breaks(columns):
        batches = escape_line_breaks(batches)
    if check is not None:
        batches = _checked(batches, check)
    try:
        yield from pack_statements(batches, insert_prefix(table, columns), fill=target, limit=limit)
    except RowTooLarge as exc:
        raise RowTooLarge(f"table {table!r}: {exc}") from None
    finally:
        # Close the reader first: an interrupted result is then marked done, and closing the cursor
        # does not try to read the rest of it (the caller closes the connection instead).
        values.close()
        cur.close()


class RowTooLarge(OperationError):
    """A row that no statement under the limit can hold: the dump would not load."""


# The server returns NULL for a CONCAT longer than its max_allowed_packet; either way the row cannot
# travel as one statement.
ROW_TOO_LARGE = (
    "a row is larger than {limit:,} bytes once written as SQL; raise max_allowed_packet to back it up"
)


def pack_statements(
    batches: Iterable[list[bytes | None]], prefix: bytes, *, fill: int, limit: int
) -> Iterator[tuple[bytes, int]]:
    """Pack row literals into `prefix v1,v2,…;\\n` statements of about `fill` bytes, never over `limit`.

    Rows keep their order. Sizes are summed and split points found with C-level helpers
    (accumulate, bisect): a per-row Python loop here would cost as much as the server's formatting.
    """
    # The statement being filled: prefix, rows, a comma before every row but the first, ";\n".
    empty = len(prefix) + 2 - 1
    fill = min(fill, limit)
    pending: list[bytes] = []
    size = empty
    for values in batches:
        if None in values:
            raise RowTooLarge(ROW_TOO_LARGE.format(limit=limit))
        rows: list[bytes] = values  # type: ignore[assignment]  # no None left
        ends = list(accumulate(map(_plus_comma, map(len, rows))))
        start, base = 0, 0
        while start < len(rows):
            stop = bisect_right(ends, base + fill - size, lo=start)
            if stop == start:  # the next row does not fit what is left of this statement
                if pending:
                    yield _statement(prefix, pending), len(pending)
                    pending, size = [], empty
                    continue
                if empty + ends[start] - base > limit:
                    raise RowTooLarge(ROW_TOO_LARGE.format(limit=limit))
                stop = start + 1  # a big row alone in its statement, still under the limit
            pending.extend(rows[start:stop])
            size += ends[stop - 1] - base
            start, base = stop, ends[stop - 1]
    if pending:
        yield _statement(prefix, pending), len(pending)


def _statement(prefix: bytes, rows: list[bytes]) -> bytes:
    return b"".join((prefix, b",".join(rows), b";\n"))


def _plus_comma(n: int) -> int:
    return n + 1


def _checked(
    batches: Iterable[list[bytes | None]], check: Callable[[], None]
) -> Iterator[list[bytes | None]]:
    for batch in batches:
        check()
        yield batch
