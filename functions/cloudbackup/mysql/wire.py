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
LONG = 0x100  # not a byte: marks a long value whose first packet is still arriving
LENENC_SKIP = {0xFC: 3, 0xFD: 4, 0xFE: 9}


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
    continued = 0  # packets that carried the rest of a long value (each one takes a sequence id)
    while True:
        chunk = _read(conn, rfile)
        buf = buf[pos:] + chunk if pos < len(buf) else chunk
        pos = 0
        end_of_buf = len(buf)
        values: list[bytes | None] = []
        append = values.append
        while pos + 4 < end_of_buf:
            end = pos + 4 + (buf[pos] | buf[pos + 1] << 8 | buf[pos + 2] << 16)
            if end <= end_of_buf:
                first = buf[pos + 4]  # the value's length-encoded prefix
            elif end - pos - 4 == MAX_PAYLOAD:
                first = LONG  # the first packet of a value of 16 MiB or more, not all here yet
            else:
                break
            if first < 0xFB:
                append(buf[pos + 5 : end])
            elif first == 0xFB:
                append(None)
            elif first == 0xFC:
                append(buf[pos + 7 : end])
            elif first == 0xFD and end - pos - 4 < MAX_PAYLOAD:
                append(buf[pos + 8 : end])
            elif first == 0xFE and end - pos < 13:  # EOF packet: the result set is complete
                conn._next_seq_id = (conn._next_seq_id + rows + len(values) + continued + 1) % 256
                if values:
                    yield values
                return
            elif first != 0xFF:  # a value of 16 MiB or more, over several packets
                value, more, buf, pos = _long_value(conn, rfile, buf, pos)
                append(value)
                continued += more
                end_of_buf = len(buf)
                continue
            else:  # an error packet (killed query, changed table definition, …)
                conn._next_seq_id = 0
                pymysql.err.raise_mysql_exception(buf[pos + 4 : end])
            pos = end
        rows += len(values)
        if values:
            yield values


def _long_value(conn: Any, rfile: Any, buf: bytes, pos: int) -> tuple[bytes, int, bytes, int]:
    """The value whose packets start at buf[pos]: (value, packets after the first, buffer, position).

    A payload of MAX_PAYLOAD bytes continues in the next packet, until one is shorter.
    """
    parts: list[bytes] = []
    packets = 0
    while True:
        while len(buf) - pos < 4:
            buf, pos = buf[pos:] + _read(conn, rfile), 0
        length = buf[pos] | buf[pos + 1] << 8 | buf[pos + 2] << 16
        pos += 4
        left = length
        while left:
            if pos == len(buf):
                buf, pos = _read(conn, rfile), 0
            take = min(left, len(buf) - pos)
            parts.append(buf[pos : pos + take])
            pos += take
            left -= take
        packets += 1
        if length < MAX_PAYLOAD:
            break
    payload = b"".join(parts)
    skip = LENENC_SKIP.get(payload[0], 1)  # the length prefix: 1, 3, 4 or 9 bytes
    return payload[skip:], packets - 1, buf, pos


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
