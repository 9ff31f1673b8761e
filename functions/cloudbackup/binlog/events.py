"""Binary log events as the server sends them: the common header, and the few bodies we read or rewrite.

Events stay the server's own bytes from archive to replay; only a Table_map's database name (and then
its size and CRC32) is ever changed, and a rows event's STMT_END flag when events of another database
that ended the statement are left out. Layouts: MySQL's libbinlogevents and MariaDB's log_event.h,
which agree on everything read here (the v4 header, Query, Table_map, rows, Rotate, XID).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import zstandard

from cloudbackup.errors import IntegrityError
from cloudbackup.format.frames import decompress_stream

HEADER_LEN = 19
CHECKSUM_LEN = 4
_HEADER = struct.Struct("<IBIIIH")  # timestamp, type, server_id, event_size, log_pos, flags

QUERY = 2
STOP = 3
ROTATE = 4
INTVAR = 5
RAND = 13
USER_VAR = 14
FORMAT_DESCRIPTION = 15
XID = 16
EXECUTE_LOAD_QUERY = 18  # a statement-logged LOAD DATA: a Query event's layout, a longer post-header
TABLE_MAP = 19
HEARTBEAT = 27
GTID_MYSQL = 33
TRANSACTION_PAYLOAD = 40  # binlog_transaction_compression: a transaction's events, zstd-compressed
HEARTBEAT_V2 = 41
GTID_MARIADB = 162
ROWS_EVENTS = frozenset({23, 24, 25, 30, 31, 32, 39})  # write/update/delete v1 and v2, partial JSON
MARIADB_COMPRESSED = frozenset(range(165, 172))  # log_bin_compress: query and rows events, compressed
HEARTBEATS = frozenset({HEARTBEAT, HEARTBEAT_V2})

ARTIFICIAL_FLAG = 0x20  # LOG_EVENT_ARTIFICIAL_F: made up by the dump thread, not in the file
STMT_END_FLAG = 0x0001  # rows event flag: the last event of its statement (tables are closed after it)
CHECKSUM_CRC32 = 1
_FDE_FIXED = 2 + 50 + 4 + 1  # binlog version, server version, create time, header length


@dataclass(frozen=True)
class Event:
    raw: bytes
    timestamp: int
    type: int
    server_id: int
    size: int
    log_pos: int  # the position just after this event in its file (0 for made-up events)
    flags: int

    @property
    def start(self) -> int:
        return self.log_pos - self.size

    @property
    def time(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp, UTC)

    @property
    def artificial(self) -> bool:
        return self.log_pos == 0 or bool(self.flags & ARTIFICIAL_FLAG)


def parse_event(raw: bytes) -> Event:
    if len(raw) < HEADER_LEN:
        raise ValueError(f"a binlog event of {len(raw)} bytes is shorter than its header")
    timestamp, kind, server_id, size, log_pos, flags = _HEADER.unpack_from(raw)
    if size != len(raw):
        raise ValueError(f"a binlog event says {size} bytes but has {len(raw)}")
    return Event(raw, timestamp, kind, server_id, size, log_pos, flags)


def split_events(data: bytes) -> tuple[list[Event], bytes]:
    """The whole events at the start of `data`, and the bytes of an unfinished one after them."""
    events, at = [], 0
    while len(data) - at >= HEADER_LEN:
        size = struct.unpack_from("<I", data, at + 9)[0]
        if size < HEADER_LEN:
            raise ValueError(f"a binlog event at offset {at} claims {size} bytes")
        if len(data) - at < size:
            break
        events.append(parse_event(data[at : at + size]))
        at += size
    return events, data[at:]


@dataclass(frozen=True)
class FormatDescription:
    """What a file's first event says about the rest: post-header lengths and the checksum."""

    raw: bytes
    checksum: bool
    post_header: bytes  # post-header length of event type N at index N-1
    server_version: str = ""  # of the server that wrote the file: "10.11.19-MariaDB-log", "9.7.0"

    def post_header_len(self, kind: int) -> int:
        return self.post_header[kind - 1] if 0 < kind <= len(self.post_header) else 0


def format_description(event: Event) -> FormatDescription:
    body = event.raw[HEADER_LEN:]
    if len(body) < _FDE_FIXED + 5:
        raise ValueError(f"a format description event of {event.size} bytes is shorter than its fields")
    # Checksum-aware servers (all we support) end the event with the algorithm byte and a CRC32.
    alg = body[-5]
    checksum = alg == CHECKSUM_CRC32
    version = body[2:52].split(b"\0", 1)[0].decode("ascii", "replace")
    described = FormatDescription(
        raw=event.raw, checksum=checksum, post_header=body[_FDE_FIXED:-5], server_version=version
    )
    # Where a Table_map's names start: MariaDB reads them at this length, MySQL right after the table id
    # and flags. Any other length than those two add up to, and the servers would read another
    # database's name there than the one this module renamed (table_map, rename_table_map).
    table_map_post = described.post_header_len(TABLE_MAP)
    if table_map_post not in (4 + 2, 6 + 2):
        raise ValueError(
            f"a format description gives Table_map events a post-header of {table_map_post} bytes"
        )
    return described


def payload(event: Event, fde: FormatDescription) -> bytes:
    """The body after the header, without the checksum."""
    return event.raw[HEADER_LEN : len(event.raw) - (CHECKSUM_LEN if fde.checksum else 0)]


def _with_body(event: Event, body: bytes, fde: FormatDescription, flags: int | None = None) -> Event:
    """The event with a new body: size (and CRC32 when the file has checksums) recomputed."""
    size = HEADER_LEN + len(body) + (CHECKSUM_LEN if fde.checksum else 0)
    header = _HEADER.pack(
        event.timestamp,
        event.type,
        event.server_id,
        size,
        event.log_pos,
        event.flags if flags is None else flags,
    )
    raw = header + body
    if fde.checksum:
        raw += struct.pack("<I", zlib.crc32(raw) & 0xFFFFFFFF)
    return parse_event(raw)


# --- Rotate, GTID ------------------------------------------------------------------------------------


def rotate_target(event: Event, checksum: bool) -> str:
    """The file a Rotate event names (after its 8-byte position)."""
    end = len(event.raw) - (CHECKSUM_LEN if checksum else 0)
    return event.raw[HEADER_LEN + 8 : end].decode()


def gtid_of(event: Event) -> str | None:
    """The GTID a transaction's first event names: MariaDB `domain-server-seq`, MySQL `uuid:gno`."""
    body = event.raw[HEADER_LEN:]
    if event.type == GTID_MARIADB:
        seq, domain = struct.unpack_from("<QI", body)
        return f"{domain}-{event.server_id}-{seq}"
    if event.type == GTID_MYSQL:
        sid = body[1:17].hex()
        gno = struct.unpack_from("<q", body, 17)[0]
        return f"{sid[:8]}-{sid[8:12]}-{sid[12:16]}-{sid[16:20]}-{sid[20:]}:{gno}"
    return None


ANONYMOUS_GTID_MYSQL = 34  # a GTID event's layout, written when gtid_mode is OFF
# flags, source UUID, GNO, logical clock type, last_committed, sequence_number: then the timestamps
_GTID_POST_HEADER = 1 + 16 + 8 + 1 + 8 + 8
_COMMIT_TIMESTAMP_BYTES = 7


def commit_time(event: Event) -> float | None:
    """When the transaction this event begins committed, to the microsecond: the immediate commit
    timestamp MySQL 8.0.1+ writes in its GTID events. None for any other event, and on MariaDB, whose
    binlog has only each event's whole second, the second its statement started."""
    if event.type not in (GTID_MYSQL, ANONYMOUS_GTID_MYSQL):
        return None
    field = event.raw[
        HEADER_LEN + _GTID_POST_HEADER : HEADER_LEN + _GTID_POST_HEADER + _COMMIT_TIMESTAMP_BYTES
    ]
    if len(field) < _COMMIT_TIMESTAMP_BYTES:
        return None  # an older server's event (or only its checksum there)
    micros = int.from_bytes(field, "little") & ((1 << 55) - 1)  # the top bit: an original time follows
    return micros / 1_000_000 if micros else None


def logged_transaction_start(event: Event) -> bool:
    """A transaction's first event, without a commit time (its time is its session's)."""
    gtid = event.type in (GTID_MYSQL, ANONYMOUS_GTID_MYSQL, GTID_MARIADB)
    return gtid and commit_time(event) is None


MARIADB_GTID_STANDALONE = 0x01


def mariadb_gtid_standalone(event: Event) -> bool:
    """A MariaDB GTID that is not followed by BEGIN…COMMIT (a DDL statement)."""
    return bool(event.raw[HEADER_LEN + 12] & MARIADB_GTID_STANDALONE)


# --- Table_map and rows --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableMap:
    table_id: int
    database: str
    table: str


def _table_id(body: bytes, id_len: int) -> int:
    return int.from_bytes(body[:id_len], "little")


def _id_len(post_header_len: int) -> int:
    return 4 if post_header_len == 6 else 6  # very old servers wrote 4-byte table ids


def table_map(event: Event, fde: FormatDescription) -> TableMap:
    body = payload(event, fde)
    post = fde.post_header_len(TABLE_MAP)
    at = post
    db_len = body[at]
    database = body[at + 1 : at + 1 + db_len].decode("utf-8", "surrogateescape")
    at += 1 + db_len + 1
    table_len = body[at]
    table = body[at + 1 : at + 1 + table_len].decode("utf-8", "surrogateescape")
    return TableMap(_table_id(body, _id_len(post)), database, table)


def rename_table_map(event: Event, fde: FormatDescription, database: str) -> Event:
    """The Table_map event pointing at `database` instead of its own."""
    body = payload(event, fde)
    post = fde.post_header_len(TABLE_MAP)
    old_len = body[post]
    name = database.encode()
    if len(name) > 255:
        raise ValueError(f"database name {database!r} is too long for a Table_map event")
    new_body = body[:post] + bytes([len(name)]) + name + body[post + 1 + old_len :]
    return _with_body(event, new_body, fde)


def rows_table_id(event: Event, fde: FormatDescription) -> int:
    return _table_id(payload(event, fde), _id_len(fde.post_header_len(event.type)))


def rows_flags(event: Event, fde: FormatDescription) -> int:
    body = payload(event, fde)
    at = _id_len(fde.post_header_len(event.type))
    return int(struct.unpack_from("<H", body, at)[0])


def with_stmt_end(event: Event, fde: FormatDescription) -> Event:
    """The rows event marked as the last of its statement."""
    body = bytearray(payload(event, fde))
    at = _id_len(fde.post_header_len(event.type))
    flags = struct.unpack_from("<H", body, at)[0] | STMT_END_FLAG
    struct.pack_into("<H", body, at, flags)
    return _with_body(event, bytes(body), fde)


# --- Query ---------------------------------------------------------------------------------------------

Q_FLAGS2 = 0  # session options, among them foreign_key_checks
Q_SQL_MODE = 1
Q_CHARSET = 4
Q_TIME_ZONE = 5  # the session's time zone, logged when the statement used it
Q_INVOKER = 11  # the definer's user and host, each a length byte and its bytes
Q_UPDATED_DB_NAMES = 12  # a count, then that many NUL-ended names (none when the count is 254)
Q_EXPLICIT_DEFAULTS_FOR_TIMESTAMP = 16  # MySQL, where the statement declares a TIMESTAMP column
Q_DEFAULT_COLLATION_FOR_UTF8MB4 = 18  # MySQL: the collation id a bare utf8mb4 meant
OPTION_NO_FOREIGN_KEY_CHECKS = 1 << 26  # a flags2 bit: foreign_key_checks = 0
OPTION_EXPLICIT_DEF_TIMESTAMP = 1 << 24  # a MariaDB flags2 bit: explicit_defaults_for_timestamp = ON
_OVER_MAX_DBS = 254
# Status variables and their lengths, for those read past (codes are written in increasing order).
_FIXED_STATUS = {0: 4, 1: 8, 3: 4, 4: 6, 7: 2, 8: 2, 9: 8, 10: 4, 13: 3, 16: 1, 17: 8, 18: 2, 19: 1, 20: 1}
_COUNTED_STATUS = {2: 2, 5: 1, 6: 1}  # length byte (catalog: plus a NUL), then that many bytes


@dataclass(frozen=True)
class Query:
    database: str
    text: bytes
    sql_mode: int | None
    charset: tuple[int, int, int] | None  # character_set_client, collation_connection, collation_server
    time_zone: str | None = None  # e.g. '+05:00' or 'Europe/Paris': where a TIMESTAMP literal was read
    flags2: int | None = None  # the session options (OPTION_NO_FOREIGN_KEY_CHECKS, ...)
    # MySQL's explicit_defaults_for_timestamp, logged with a statement declaring a TIMESTAMP column
    # (MariaDB's is a flags2 bit: OPTION_EXPLICIT_DEF_TIMESTAMP)
    explicit_defaults: bool | None = None
    utf8mb4_collation: int | None = None  # MySQL's default_collation_for_utf8mb4, as a collation id


def query(event: Event, fde: FormatDescription) -> Query:
    body = payload(event, fde)
    post = fde.post_header_len(event.type) or 13  # (an Execute_load_query has 13 more bytes)
    db_len = body[8]
    status_len = struct.unpack_from("<H", body, 11)[0]
    status = body[post : post + status_len]
    at = post + status_len
    database = body[at : at + db_len].decode("utf-8", "surrogateescape")
    text = body[at + db_len + 1 :]
    return Query(database, text, *_status_settings(status))


def _status_settings(
    status: bytes,
) -> tuple[int | None, tuple[int, int, int] | None, str | None, int | None, bool | None, int | None]:
    """sql_mode, the character sets, the time zone, flags2, explicit_defaults_for_timestamp and
    default_collation_for_utf8mb4 from the status variables (read in order up to an unknown one)."""
    sql_mode = charset = time_zone = flags2 = explicit_defaults = utf8mb4_collation = None
    at = 0
    while at < len(status):
        code = status[at]
        at += 1
        if code == Q_FLAGS2:
            flags2 = struct.unpack_from("<I", status, at)[0]
        elif code == Q_SQL_MODE:
            sql_mode = struct.unpack_from("<Q", status, at)[0]
        elif code == Q_CHARSET:
            charset = struct.unpack_from("<HHH", status, at)
        elif code == Q_TIME_ZONE:
            time_zone = status[at + 1 : at + 1 + status[at]].decode("ascii", "replace")
        elif code == Q_EXPLICIT_DEFAULTS_FOR_TIMESTAMP:
            explicit_defaults = status[at] != 0
        elif code == Q_DEFAULT_COLLATION_FOR_UTF8MB4:
            utf8mb4_collation = struct.unpack_from("<H", status, at)[0]
        if code in _FIXED_STATUS:
            at += _FIXED_STATUS[code]
        elif code in _COUNTED_STATUS:
            at += 1 + status[at] + (1 if code == 2 else 0)
        elif code == Q_INVOKER:
            at += 1 + status[at]  # the user
            at += 1 + status[at]  # the host
        elif code == Q_UPDATED_DB_NAMES:
            count = status[at]
            at += 1
            for _ in range(0 if count == _OVER_MAX_DBS else count):
                at = (status.find(b"\0", at) + 1) or len(status)  # (a name without its NUL: the end)
        else:
            break  # a flavour's own variable: what we need was written before it
    return sql_mode, charset, time_zone, flags2, explicit_defaults, utf8mb4_collation


# --- Transaction_payload ---------------------------------------------------------------------------------

_PAYLOAD_END = 0  # the fields before the payload: (type, length, value) each as a packed integer, then 0
_PAYLOAD_SIZE, _PAYLOAD_COMPRESSION, _PAYLOAD_UNCOMPRESSED_SIZE = 1, 2, 3
_COMPRESSION_ZSTD, _COMPRESSION_NONE = 0, 255


def _packed_int(data: bytes, at: int) -> tuple[int, int]:
    """A length-encoded integer of the client protocol at `at`: its value and where the next field is."""
    first = data[at]
    if first < 0xFB:
        return first, at + 1
    width = {0xFC: 2, 0xFD: 3, 0xFE: 8}.get(first)
    if width is None or at + 1 + width > len(data):
        raise ValueError(f"a packed integer at byte {at} starts with {first:#x}")
    return int.from_bytes(data[at + 1 : at + 1 + width], "little"), at + 1 + width


def payload_events(
    event: Event, fde: FormatDescription, max_event_bytes: int | None = None
) -> Iterator[Event]:
    """The events a Transaction_payload holds (MySQL's binlog_transaction_compression): ordinary events
    at position 0 without checksums, the transaction's GTID event outside them. Read as they are decoded,
    in bounded pieces: a payload of a few KB may decode to GBs. With `max_event_bytes`, an inner event
    claiming more (one no BINLOG statement could carry) is refused once that much of it is read."""
    body = payload(event, fde)
    fields: dict[int, int] = {}
    at = 0
    while True:
        kind, at = _packed_int(body, at)
        if kind == _PAYLOAD_END:
            break
        length, at = _packed_int(body, at)
        fields[kind], _ = _packed_int(body[: at + length], at)
        at += length
    size = fields.get(_PAYLOAD_SIZE, len(body) - at)
    data = body[at : at + size]
    compression = fields.get(_PAYLOAD_COMPRESSION, _COMPRESSION_NONE)
    if compression not in (_COMPRESSION_ZSTD, _COMPRESSION_NONE):
        raise ValueError(f"its payload is compressed with an unknown method ({compression})")
    pieces = _decoded(data) if compression == _COMPRESSION_ZSTD else iter([data])
    rest, decoded = b"", 0
    for piece in pieces:
        decoded += len(piece)
        inner, rest = split_events(rest + piece)
        if max_event_bytes is not None and len(rest) > max_event_bytes:
            raise ValueError(f"it holds an event of more than {max_event_bytes:,} bytes")
        # Written without checksums: given the file's own, they read (and go back to the server) as the
        # events around them do
        yield from (_with_body(e, e.raw[HEADER_LEN:], fde) for e in inner)
    expected = fields.get(_PAYLOAD_UNCOMPRESSED_SIZE, 0) if compression == _COMPRESSION_ZSTD else 0
    if expected and decoded != expected:
        raise ValueError(f"its payload holds {decoded} bytes, not the {expected} it says")
    if rest:
        raise ValueError(f"its payload ends inside an event ({len(rest)} bytes left)")


def _decoded(data: bytes) -> Iterator[bytes]:
    try:
        yield from decompress_stream("zstd", [data])
    except (zstandard.ZstdError, IntegrityError) as exc:
        raise ValueError(f"its zstd payload cannot be read: {exc}") from None
