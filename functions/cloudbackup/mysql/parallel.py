"""A big table read on two connections at once, both holding the same snapshot.

The server formats every row (rows.py), and one query runs on one server thread, so on a large table
that thread is what the dump waits for. The table's first primary-key column (an integer) is cut into
ranges, and the two connections take the next range as each finishes one, so neither waits on the
other however the keys are spread. Their INSERT statements go into the table's frame as they come:
each covers its own key range, so the interleaving changes nothing that loads.

The second connection is read in a thread of its own (pymysql's reads release the GIL while they wait
on the socket) and hands its statements over through a small bounded queue, so memory stays flat.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from cloudbackup.mysql.identifiers import quote_identifier
from cloudbackup.mysql.rows import Column
from cloudbackup.mysql.server_text import text

# Below this much data a second query saves less than it costs to set up.
SPLIT_MIN_BYTES = 64 << 20
INTEGER_TYPES = frozenset({"tinyint", "smallint", "mediumint", "int", "bigint"})
RANGES = 16  # enough that the two connections end within a range of each other
HANDOVER_DEPTH = 4
STOP_POLL_SECONDS = 0.1

T = TypeVar("T")
_DONE: Final = object()


@dataclass(frozen=True)
class KeyRanges:
    """`parts` consecutive ranges of the integer column `column`, cut at `bounds` (ascending)."""

    column: str
    bounds: tuple[int, ...]

    def clauses(self) -> list[str]:
        """One WHERE clause per range; together they hold every row once."""
        name = quote_identifier(self.column)
        edges: list[int | None] = [None, *self.bounds, None]
        return [_range_clause(name, low, high) for low, high in itertools.pairwise(edges)]


def _range_clause(name: str, low: int | None, high: int | None) -> str:
    if low is None:
        return f"WHERE {name} <= {high}"
    if high is None:
        return f"WHERE {name} > {low}"
    return f"WHERE {name} > {low} AND {name} <= {high}"


class RangeQueue:
    """The WHERE clauses left to read, taken one at a time by either connection."""

    def __init__(self, clauses: list[str]):
        self._left = iter(clauses)
        self._lock = threading.Lock()

    def take(self) -> str | None:
        with self._lock:
            return next(self._left, None)


def big_tables(cur: Any, database: str, min_bytes: int = SPLIT_MIN_BYTES) -> set[str]:
    """The InnoDB tables of `database` that hold at least `min_bytes` of data (the server's estimate)."""
    cur.execute(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND ENGINE = 'InnoDB'"
        " AND DATA_LENGTH >= %s",
        (database, min_bytes),
    )
    return {text(name) for (name,) in cur.fetchall()}


def key_ranges(
    cur: Any, database: str, table: str, columns: list[Column], parts: int = RANGES
) -> KeyRanges | None:
    """How to cut `table` (inside the snapshot), or None if it cannot be cut.

    The cuts divide the range of the first primary-key column evenly. That column must be an integer:
    a range on it is an index range scan, and its MIN and MAX cost nothing. None when the table has
    no such key or its range is too narrow to cut.
    """
    cur.execute(
        "SELECT COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = %s"
        " AND TABLE_NAME = %s AND INDEX_NAME = 'PRIMARY' AND SEQ_IN_INDEX = 1",
        (database, table),
    )
    row = cur.fetchone()
    types = {col.name: col.data_type for col in columns}
    if row is None or types.get(text(row[0])) not in INTEGER_TYPES:
        return None
    column = text(row[0])
    name = quote_identifier(column)
    cur.execute(
        f"SELECT MIN({name}), MAX({name}) FROM {quote_identifier(database)}.{quote_identifier(table)}"
    )
    low, high = cur.fetchone()
    if low is None or high is None:
        return None
    low, high = int(low), int(high)
    bounds = sorted({low + (high - low) * i // parts for i in range(1, parts)} - {low, high})
    if not bounds:
        return None
    return KeyRanges(column=column, bounds=tuple(bounds))


def read_ranges(connection: Any, ranges: RangeQueue, read: Callable[[Any, str], Iterator[T]]) -> Iterator[T]:
    """`read(connection, where)` for each range this connection takes, until none is left."""
    while (where := ranges.take()) is not None:
        yield from read(connection, where)


def interleave(own: Iterator[T], side: Iterator[T], interrupt: Callable[[], None]) -> Iterator[T]:
    """Every item of `own` (read here) and of `side` (read in a thread), in the order they are ready.

    An error on either side is raised here, and the other side stops. `interrupt` is called when
    this stops early (an error, or the consumer closing it) while the side thread may still be
    reading. It must wake that thread, for example by shutting its connection's socket.
    """
    handover: queue.Queue[object] = queue.Queue(maxsize=HANDOVER_DEPTH)
    stop = threading.Event()
    reader = threading.Thread(target=_read_side, args=(side, handover, stop), daemon=True)
    reader.start()
    side_done = finished = False
    try:
        for item in own:
            yield item
            while not side_done:  # whatever the side has ready, without waiting for it
                try:
                    ready = handover.get_nowait()
                except queue.Empty:
                    break
                side_done = ready is _DONE
                if not side_done:
                    yield _unwrap(ready)
        while not side_done:
            ready = handover.get()
            side_done = ready is _DONE
            if not side_done:
                yield _unwrap(ready)
        finished = True
    finally:
        _close(own)
        if not finished:
            stop.set()
            interrupt()
        reader.join()


def _unwrap(item: object) -> Any:
    if isinstance(item, BaseException):
        raise item
    return item


def _read_side(side: Iterator[T], handover: queue.Queue[object], stop: threading.Event) -> None:
    try:
        for item in side:
            if not _hand_over(handover, item, stop):
                return
        _hand_over(handover, _DONE, stop)
    except BaseException as exc:  # handed to the consumer, which raises it
        _hand_over(handover, exc, stop)
    finally:
        _close(side)


def _close(items: Iterator[Any]) -> None:
    """Close a generator (its `finally` runs now, in this thread); a plain iterator has nothing to close."""
    close = getattr(items, "close", None)
    if close is not None:
        close()


def _hand_over(handover: queue.Queue[object], item: object, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            handover.put(item, timeout=STOP_POLL_SECONDS)
            return True
        except queue.Full:
            continue
    return False
