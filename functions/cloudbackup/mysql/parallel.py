"""A big table read on several connections at once, all holding the same snapshot.

The server formats every row (chunks.py), and one query runs on one server thread, so on a large table
that thread is what the dump waits for, and a single one leaves the server's other cores idle while
it waits on the network. The table's key span (its first primary-key column, an integer) is cut into
ranges, and each connection takes the next range as it finishes one, so none waits on another
however the keys are spread. Their INSERT statements go into the table's frame as they come: each
covers its own key range, so the interleaving changes nothing that loads.

Each connection is read in a thread of its own (pymysql's reads release the GIL while they wait on
the socket) and hands its statements over through a small bounded queue (handover.merge), so memory
stays flat.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any, TypeVar

import pymysql

from cloudbackup.mysql.chunks import KeySpan
from cloudbackup.mysql.server_text import text

# Below this much data a second query saves less than it costs to set up.
SPLIT_MIN_BYTES = 64 << 20
JOBS = 4  # connections reading a big table at once: the server formats rows on as many threads
RANGES_PER_JOB = 8  # enough that the connections end within a short range of each other
UNKNOWN_SYSTEM_VARIABLE = 1193

T = TypeVar("T")


def split_span(span: KeySpan, parts: int) -> list[KeySpan]:
    """`span` cut into up to `parts` consecutive spans of equal width; together they hold it once."""
    width = span.high - span.low
    edges = sorted({span.low + width * i // parts for i in range(parts + 1)})
    return [replace(span, low=low, high=high) for low, high in itertools.pairwise(edges)]


class RangeQueue:
    """The spans left to read, taken one at a time by whichever connection is free."""

    def __init__(self, spans: list[KeySpan]):
        self._left = iter(spans)
        self._lock = threading.Lock()

    def take(self) -> KeySpan | None:
        with self._lock:
            return next(self._left, None)


def big_tables(cur: Any, database: str, min_bytes: int = SPLIT_MIN_BYTES) -> set[str]:
    """The InnoDB tables of `database` that hold at least `min_bytes` of data (the server's estimate)."""
    fresh_table_statistics(cur)
    cur.execute(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND ENGINE = 'InnoDB'"
        " AND DATA_LENGTH >= %s",
        (database, min_bytes),
    )
    return {text(name) for (name,) in cur.fetchall()}


def fresh_table_statistics(cur: Any) -> None:
    """Let information_schema.TABLES show sizes as they are now, not as cached for a day.

    MySQL 8.0+ keeps a table's DATA_LENGTH and TABLE_ROWS for `information_schema_stats_expiry`
    seconds (24 hours by default): a table filled since it was last looked at shows as empty and
    would be read on one connection. MariaDB (and older MySQL) have no such cache or variable.
    """
    try:
        cur.execute("SET SESSION information_schema_stats_expiry = 0")
    except pymysql.err.OperationalError as exc:
        if not exc.args or exc.args[0] != UNKNOWN_SYSTEM_VARIABLE:
            raise


def read_ranges(
    connection: Any, ranges: RangeQueue, read: Callable[[Any, KeySpan], Iterator[T]]
) -> Iterator[T]:
    """`read(connection, span)` for each span this connection takes, until none is left."""
    while (span := ranges.take()) is not None:
        yield from read(connection, span)
