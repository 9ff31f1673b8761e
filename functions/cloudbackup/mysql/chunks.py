"""A table's rows as INSERT statements the server builds whole: one query per key range.

For a table keyed by an integer, the server joins a range's row literals (rows.py) with GROUP_CONCAT,
and one result of about STATEMENT_TARGET bytes is one statement's VALUES list. Per row, Python then
does nothing at all: taking ~200 rows of ~1 MiB off the wire instead of a million small ones costs
the client a tenth of the CPU, and the server no more.

Ranges adapt to the data: each one is sized from the bytes per key of the one before; a range that
comes back empty jumps to the next key that exists; one that does not fit a statement (GROUP_CONCAT
cut it) is read again, smaller. Any other warning means a row the server could not format (a value
past max_allowed_packet becomes NULL, which GROUP_CONCAT would skip without a word), so the rest of
the range is read row by row (rows.py), which tells those rows apart. So is a range holding a row
whose literal may reach 16 MiB: MariaDB's GROUP_CONCAT cuts each such row to 16 MiB - 1 bytes without
a warning (a 40 MB blob came back as its first 16 MB, the next row's text after it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from cloudbackup.mysql.identifiers import quote_identifier
from cloudbackup.mysql.rows import (
    SPATIAL_TYPES,
    STATEMENT_TARGET,
    Column,
    TableLayout,
    insert_prefix,
    iter_inserts,
    may_hold_line_breaks,
    row_expression,
    without_raw_line_breaks,
)

FIRST_STEP = 1000  # keys in a span's first range: few rows, and the next ranges sized by its bytes
# A row's literal past GROUP_CONCAT_ROW_MAX bytes is cut to it by MariaDB's GROUP_CONCAT, without a
# warning. A value's literal is at most twice its bytes (hex, or every character escaped) and
# PER_COLUMN_MAX more (quotes, introducer, or a number's or BIT's digits); columns that cannot hold
# 64 KiB share InnoDB's 65,535-byte row limit. Only the columns of LONG_TYPES (or of BOUNDED_TYPES,
# where a table has so many of them) can pass it: their lengths are read with each range.
GROUP_CONCAT_ROW_MAX = 0xFFFFFF
PER_COLUMN_MAX = 128
ROW_LIMIT = 65535
LONG_TYPES = frozenset({"mediumblob", "mediumtext", "longblob", "longtext", "json"}) | SPATIAL_TYPES
BOUNDED_TYPES = {"tinyblob": 255, "tinytext": 255, "blob": 65535, "text": 65535, "enum": 1020, "set": 65535}
MAX_GROWTH = 8
INTEGER_TYPES = frozenset({"tinyint", "smallint", "mediumint", "int", "bigint"})
STATEMENT_END = b";\n"


@dataclass(frozen=True)
class KeySpan:
    """The rows whose integer key `column` lies in (`low`, `high`]. `unique`: one row per key value
    (the column is the whole primary key), so a range of n keys holds at most n rows."""

    column: str
    low: int
    high: int
    unique: bool = True

    def where(self) -> str:
        return _in_range(quote_identifier(self.column), self.low, self.high)


def key_span(cur: Any, database: str, table: str, layout: TableLayout) -> KeySpan | None:
    """Every row of `table` (inside the snapshot) as one span, or None if it has no integer key.

    The key is the first primary-key column, which must be an integer: a range on it is an index
    range scan, and its MIN and MAX cost nothing. An empty table has no span either.
    """
    key = layout.primary_key
    types = {col.name: col.data_type for col in layout.columns}
    if not key or types.get(key[0]) not in INTEGER_TYPES:
        return None
    name = quote_identifier(key[0])
    cur.execute(
        f"SELECT MIN({name}), MAX({name}) FROM {quote_identifier(database)}.{quote_identifier(table)}"
    )
    low, high = cur.fetchone()
    if low is None or high is None:
        return None
    return KeySpan(column=key[0], low=int(low) - 1, high=int(high), unique=len(key) == 1)


def iter_chunks(
    conn: Any,
    database: str,
    table: str,
    columns: list[Column],
    span: KeySpan,
    *,
    limit: int,
    target: int = STATEMENT_TARGET,
    step: int = FIRST_STEP,
    check: Callable[[], None] | None = None,
) -> Iterator[tuple[bytes, int]]:
    """(`INSERT …;\\n` statement, rows in it) for every row of `span`, each at most `limit` bytes.

    `step` is the first range's width in keys. `check` runs before every range (cancellation).
    A range that could hold far more rows than a statement (keys denser than the last range's) is
    first sized by the server's estimate of its rows, which costs an index dive, not a scan: a range
    GROUP_CONCAT cuts short has still formatted every one of its rows.
    """
    prefix = insert_prefix(table, columns)
    # GROUP_CONCAT's result is the VALUES list; the session caps it at max_allowed_packet (snapshot.py)
    room = limit - len(prefix) - len(STATEMENT_END)
    name = quote_identifier(span.column)
    whole = f"{quote_identifier(database)}.{quote_identifier(table)}"
    source = f"{whole} FORCE INDEX (PRIMARY)"
    # The rows' CONCAT is binary (rows.py), so is their GROUP_CONCAT; the CAST says so where it is read.
    values = f"CAST(GROUP_CONCAT({row_expression(columns)} SEPARATOR ',') AS BINARY)"
    measured, too_long = measured_columns(columns)
    select = f"SELECT COUNT(*), {_most_bytes(measured)}, {values} FROM {source}"
    line_breaks = may_hold_line_breaks(columns)
    rows_wanted = step  # rows that make a statement of about `target` bytes, once a range has shown it
    low = span.low
    with conn.cursor() as cur:
        while low < span.high:
            if check is not None:
                check()
            high = min(low + step, span.high)
            if not span.unique or high - low > 2 * rows_wanted:
                estimate = _estimated_rows(cur, whole, name, low, high)
                if estimate > 2 * rows_wanted:
                    high = low + max(1, (high - low) * rows_wanted // estimate)
            where = _in_range(name, low, high)
            cur.execute(f"{select} {where}")
            ((count, long_bytes, body),) = cur.fetchall()
            if long_bytes is not None and int(long_bytes) >= too_long:  # (a DECIMAL on MySQL)
                yield from iter_inserts(
                    conn, database, table, columns, limit=limit, target=target, check=check, where=where
                )
                low = high
                continue
            if line_breaks and body is not None:
                # Escaping can grow a list past the room: it is then read again, as one cut short
                body = without_raw_line_breaks(body)
            width = high - low
            cut = body is not None and len(body) >= room
            if cut and width > 1:  # too big for one statement: read it again, smaller
                step = max(1, min(width // 2, width * target // room))
                continue
            if not cut and not cur.warning_count and (body is not None or not count):
                if count:
                    yield b"".join((prefix, body, STATEMENT_END)), count
                    rows_wanted = max(1, count * target // len(body))
                    step = max(1, min(width * MAX_GROWTH, width * target // len(body)))
                    low = high
                else:
                    low = _before_next_key(cur, source, name, high, span.high)
                continue
            # A row the server could not format, or one key whose rows need statements of their own
            rest = replace(span, low=low)
            yield from iter_inserts(
                conn, database, table, columns, limit=limit, target=target, check=check, where=rest.where()
            )
            return


def measured_columns(columns: list[Column]) -> tuple[list[Column], int]:
    """The columns whose bytes a range must measure, and the most bytes a row may hold in them before
    its literal could pass GROUP_CONCAT_ROW_MAX."""
    fixed = 2 * ROW_LIMIT + PER_COLUMN_MAX * len(columns)
    measured = [c for c in columns if c.data_type in LONG_TYPES]
    bounded = [c for c in columns if c.data_type in BOUNDED_TYPES]
    bounded_max = 2 * sum(BOUNDED_TYPES[c.data_type] for c in bounded)
    if fixed + bounded_max < GROUP_CONCAT_ROW_MAX // 2:
        fixed += bounded_max
    else:  # (hundreds of TEXT columns)
        measured += bounded
    return measured, (GROUP_CONCAT_ROW_MAX - fixed) // 2


def _most_bytes(columns: list[Column]) -> str:
    """SQL for the most bytes a row of the range holds in `columns` (NULL when there are none).

    LENGTH reads a stored value's length: for the bench's TEXT column it would cost 5 % of the read,
    which is why only the columns that could pass the bound are measured.
    """
    lengths = [f"IFNULL(LENGTH({quote_identifier(c.name)}),0)" for c in columns]
    return f"MAX({'+'.join(lengths)})" if lengths else "NULL"


def _estimated_rows(cur: Any, table: str, name: str, low: int, high: int) -> int:
    """The optimizer's estimate of the rows in (`low`, `high`]: a dive at each end of the range.

    `table` carries no index hint: under FORCE INDEX, MySQL skips the dives and estimates one row.
    """
    # The tabular format names: MySQL 9 defaults to a TREE of text, which has no `rows` column.
    cur.execute(f"EXPLAIN FORMAT=TRADITIONAL SELECT 1 FROM {table} {_in_range(name, low, high)}")
    row = cur.fetchone()
    rows = row[[d[0] for d in cur.description].index("rows")]
    return int(rows or 0)


def _before_next_key(cur: Any, source: str, name: str, after: int, last: int) -> int:
    """Just below the first key past `after` (up to `last`); `last` if there is none."""
    cur.execute(f"SELECT MIN({name}) FROM {source} {_in_range(name, after, last)}")
    (key,) = cur.fetchone()
    return last if key is None else int(key) - 1


def _in_range(name: str, low: int, high: int) -> str:
    """The WHERE clause for keys of the quoted column `name` in (`low`, `high`]."""
    return f"WHERE {name} > {low} AND {name} <= {high}"
