"""Read a one-column result set straight off the connection, in batches of raw values.

The dump asks the server to format each row as one SQL literal `(…)`; what is left for Python is to
take those values off the wire. pymysql builds a packet object, a tuple and a decoded value per row
(about 3.5 µs a row, slower than the server produces them), so this module parses the text-protocol
row packets itself from pymysql's buffered socket reader: a few slices per row and nothing decoded.
It is used only between `execute()` and the end of that result set, on pymysql's own connection,
after pymysql has read the column definitions; it falls back to `fetchmany()` if those internals
are missing.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import Any

import pymysql
from pymysql.constants import CR

READ_SIZE = 1 << 20
FALLBACK_BATCH = 2000
MAX_PAYLOAD = 0xFFFFFF  # a packet this long continues in the next one (values of 16 MiB or more)


class ValueTooLarge(Exception):
    """A formatted row of 16 MiB or more: larger than any statement the dump may write."""


def iter_values(cursor: Any) -> Generator[list[bytes | None], None, None]:
    """Batches of the single column's values (None for SQL NULL) of the result `cursor` just opened.

    `cursor` is an unbuffered (SSCursor) cursor on which `execute()` returned. Server errors raise
    the usual pymysql exceptions; a closed socket raises OperationalError(CR_SERVER_LOST).
    """
    conn = cursor.connection
    result = getattr(cursor, "_result", None)
    rfile = getattr(conn, "_rfile", None)
    if result is None or rfile is None or not hasattr(conn, "_next_seq_id"):
        yield from _fallback(cursor)
        return
    if not getattr(result, "unbuffered_active", False):
        return
    try:
        yield from _parse(conn, rfile)
    finally:
        # Whether the result set ended or an error interrupted it, pymysql must not read it again.
        result.unbuffered_active = False


def _parse(conn: Any, rfile: Any) -> Iterator[list[bytes | None]]:
    # The hot loop of the whole dump: one pass per row, kept to a few slices and comparisons.
    buf = b""
    pos = 0
    rows = 0
    while True:
        chunk = _read(conn, rfile)
        buf = buf[pos:] + chunk if pos < len(buf) else chunk
        pos = 0
        end_of_buf = len(buf)
        values: list[bytes | None] = []
        append = values.append
        while pos + 4 < end_of_buf:
            end = pos + 4 + (buf[pos] | buf[pos + 1] << 8 | buf[pos + 2] << 16)
            if end > end_of_buf:
                break
            first = buf[pos + 4]  # the value's length-encoded prefix
            if first < 0xFB:
                append(buf[pos + 5 : end])
            elif first == 0xFB:
                append(None)
            elif first == 0xFC:
                append(buf[pos + 7 : end])
            elif first == 0xFD:
                if end - pos - 4 == MAX_PAYLOAD:
                    raise ValueTooLarge()
                append(buf[pos + 8 : end])
            elif first == 0xFE and end - pos < 13:  # EOF packet: the result set is complete
                conn._next_seq_id = (conn._next_seq_id + rows + len(values) + 1) % 256
                if values:
                    yield values
                return
            elif first == 0xFE:  # a value of 16 MiB or more
                raise ValueTooLarge()
            else:  # 0xFF: an error packet (killed query, changed table definition, …)
                conn._next_seq_id = 0
                pymysql.err.raise_mysql_exception(buf[pos + 4 : end])
            pos = end
        rows += len(values)
        if values:
            yield values


def _read(conn: Any, rfile: Any) -> bytes:
    try:
        chunk: bytes = rfile.read1(READ_SIZE)
    except OSError as exc:
        conn._force_close()
        raise pymysql.err.OperationalError(
            CR.CR_SERVER_LOST, f"Lost connection to server during query ({exc})"
        ) from None
    if not chunk:
        conn._force_close()
        raise pymysql.err.OperationalError(CR.CR_SERVER_LOST, "Lost connection to server during query")
    return chunk


def _fallback(cursor: Any) -> Iterator[list[bytes | None]]:
    while rows := cursor.fetchmany(FALLBACK_BATCH):
        yield [v if v is None or isinstance(v, bytes) else str(v).encode() for (v,) in rows]
