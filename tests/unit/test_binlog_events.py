"""Binlog events rewritten for replay: the Table_map's database, the statement end, the CRC32."""

from __future__ import annotations

import struct
import zlib

import pytest
import zstandard

from cloudbackup.binlog import events as ev

# A Format_description body: binlog v4, server version, create time, header length 19, post-header
# lengths (Table_map 8, rows v2 10, Query 13), then the checksum algorithm (CRC32) and its CRC.
POST_HEADERS = bytearray(45)
POST_HEADERS[ev.QUERY - 1] = 13
POST_HEADERS[ev.TABLE_MAP - 1] = 8
for kind in (30, 31, 32):
    POST_HEADERS[kind - 1] = 10


def event(kind: int, body: bytes, *, checksum: bool = True, log_pos: int = 500, flags: int = 0) -> bytes:
    size = ev.HEADER_LEN + len(body) + (4 if checksum else 0)
    raw = struct.pack("<IBIIIH", 1_700_000_000, kind, 7, size, log_pos, flags) + body
    return raw + struct.pack("<I", zlib.crc32(raw)) if checksum else raw


def fde(checksum: bool = True) -> ev.FormatDescription:
    body = struct.pack("<H", 4) + b"10.11.6-MariaDB".ljust(50, b"\0") + struct.pack("<IB", 0, 19)
    body += bytes(POST_HEADERS) + bytes([1 if checksum else 0])
    return ev.format_description(ev.parse_event(event(ev.FORMAT_DESCRIPTION, body)))


def table_map_body(database: bytes, table: bytes, table_id: int = 71) -> bytes:
    return (
        table_id.to_bytes(6, "little")
        + b"\x01\x00"
        + bytes([len(database)])
        + database
        + b"\0"
        + bytes([len(table)])
        + table
        + b"\0"
        + b"\x02\x03\x0f\x02\x28\x00\x02"  # columns: INT, VARCHAR(40), nullable bits
    )


def crc_ok(raw: bytes) -> bool:
    return struct.unpack("<I", raw[-4:])[0] == zlib.crc32(raw[:-4])


def test_a_table_map_renamed_points_at_the_new_database_with_a_valid_checksum():
    fd = fde()
    original = ev.parse_event(event(ev.TABLE_MAP, table_map_body(b"shop", b"item")))
    renamed = ev.rename_table_map(original, fd, "shop__cbrestore_abc123")
    table = ev.table_map(renamed, fd)
    assert (table.database, table.table, table.table_id) == ("shop__cbrestore_abc123", "item", 71)
    assert renamed.size == original.size + len("__cbrestore_abc123")
    assert crc_ok(renamed.raw)
    # everything after the names (the column types) is kept as it was
    assert renamed.raw[-11:-4] == original.raw[-11:-4]


def test_without_checksums_no_crc_is_added():
    fd = fde(checksum=False)
    original = ev.parse_event(event(ev.TABLE_MAP, table_map_body(b"a", b"t"), checksum=False))
    renamed = ev.rename_table_map(original, fd, "bb")
    assert renamed.size == original.size + 1
    assert ev.table_map(renamed, fd).database == "bb"


def test_the_statement_end_moves_onto_a_kept_rows_event():
    fd = fde()
    rows = ev.parse_event(event(31, (71).to_bytes(6, "little") + b"\x00\x00" + b"\x02\x00" + b"rowdata"))
    assert ev.rows_flags(rows, fd) == 0
    ended = ev.with_stmt_end(rows, fd)
    assert ev.rows_flags(ended, fd) & ev.STMT_END_FLAG
    assert ev.rows_table_id(ended, fd) == 71
    assert crc_ok(ended.raw)


def test_a_query_event_gives_its_database_text_sql_mode_and_character_sets():
    fd = fde()
    status = b"\x00" + struct.pack("<I", 0) + b"\x01" + struct.pack("<Q", 1411383296)
    status += b"\x06\x03std" + b"\x04" + struct.pack("<HHH", 45, 45, 224) + b"\x80" + b"\x01\x02\x03"
    body = struct.pack("<IIBHH", 9, 0, 4, 0, len(status)) + status + b"shop\0ALTER TABLE item ADD c INT"
    q = ev.query(ev.parse_event(event(ev.QUERY, body)), fd)
    assert (q.database, q.text) == ("shop", b"ALTER TABLE item ADD c INT")
    assert q.sql_mode == 1411383296
    assert q.charset == (45, 45, 224)
    assert (q.time_zone, q.flags2) == (None, 0)


def test_a_query_event_gives_the_time_zone_and_foreign_key_checks_it_was_logged_with():
    fd = fde()
    status = (
        b"\x00"
        + struct.pack("<I", ev.OPTION_NO_FOREIGN_KEY_CHECKS)
        + b"\x04"
        + struct.pack("<HHH", 45, 45, 224)
        + b"\x05\x06+05:00"
        + b"\x08"
        + struct.pack("<H", 8)
    )
    body = struct.pack("<IIBHH", 9, 0, 4, 0, len(status)) + status + b"shop\0CREATE TABLE u (d TIMESTAMP)"
    q = ev.query(ev.parse_event(event(ev.QUERY, body)), fd)
    assert (q.charset, q.time_zone, q.flags2) == ((45, 45, 224), "+05:00", ev.OPTION_NO_FOREIGN_KEY_CHECKS)


def test_a_query_event_gives_the_table_shaping_settings_logged_after_the_invoker_and_database_names():
    # Given MySQL's status variables as a CREATE TABLE with a TIMESTAMP column logs them: the definer
    # and the updated databases' names come before explicit_defaults_for_timestamp and the utf8mb4 default
    fd = fde()
    status = (
        b"\x00"
        + struct.pack("<I", 0)
        + b"\x0b\x04root\x09localhost"
        + b"\x0c\x02shop\0audit\0"
        + b"\x10\x00"
        + b"\x11"
        + struct.pack("<Q", 7)
        + b"\x12"
        + struct.pack("<H", 45)
        + b"\x13\x01"
    )
    body = struct.pack("<IIBHH", 9, 0, 4, 0, len(status)) + status + b"shop\0CREATE TABLE u (d TIMESTAMP)"
    # When the event is read
    q = ev.query(ev.parse_event(event(ev.QUERY, body)), fd)
    # Then both settings are read, and the statement with them
    assert (q.explicit_defaults, q.utf8mb4_collation) == (False, 45)
    assert (q.database, q.text) == ("shop", b"CREATE TABLE u (d TIMESTAMP)")


def test_a_query_event_naming_too_many_databases_has_no_names_to_read_past():
    fd = fde()
    status = b"\x00" + struct.pack("<I", 0) + b"\x0c\xfe" + b"\x10\x01"
    body = struct.pack("<IIBHH", 9, 0, 4, 0, len(status)) + status + b"shop\0ALTER TABLE u ADD e TIMESTAMP"
    q = ev.query(ev.parse_event(event(ev.QUERY, body)), fd)
    assert q.explicit_defaults is True


def test_split_events_keeps_an_unfinished_event_for_the_next_chunk():
    one = event(ev.XID, b"\x01" * 8, log_pos=100)
    two = event(ev.XID, b"\x02" * 8, log_pos=131)
    events, rest = ev.split_events(one + two[:10])
    assert [e.log_pos for e in events] == [100]
    assert rest == two[:10]
    with pytest.raises(ValueError, match="claims"):
        ev.split_events(b"\0" * 9 + struct.pack("<I", 3) + b"\0" * 6)


def packed(value: int) -> bytes:
    """A length-encoded integer of the client protocol (what MySQL writes a payload's fields in)."""
    if value < 0xFB:
        return bytes([value])
    return b"\xfc" + struct.pack("<H", value) if value < 1 << 16 else b"\xfe" + struct.pack("<Q", value)


def transaction_payload(inner: list[bytes], *, compression: int = 0, damage: bool = False) -> ev.Event:
    """A Transaction_payload event holding `inner` (events without checksums), as MySQL writes it."""
    data = b"".join(inner)
    packed_data = zstandard.ZstdCompressor().compress(data) if compression == 0 else data
    if damage:
        packed_data = packed_data[:-6] + b"\xff" * 6
    fields = b""
    for kind, value in ((1, len(packed_data)), (2, compression), (3, len(data))):
        fields += packed(kind) + packed(len(packed(value))) + packed(value)
    return ev.parse_event(event(ev.TRANSACTION_PAYLOAD, fields + b"\x00" + packed_data))


def test_a_transaction_payload_gives_its_events_with_the_files_checksum():
    # Given a compressed transaction: BEGIN and a Table_map, written without checksums at position 0
    begin = event(ev.QUERY, struct.pack("<IIBHH", 1, 0, 4, 0, 0) + b"shop\0BEGIN", checksum=False, log_pos=0)
    table = event(ev.TABLE_MAP, table_map_body(b"shop", b"item"), checksum=False, log_pos=0)
    for compression in (0, 255):  # zstd, and none
        # When its events are read
        inner = list(ev.payload_events(transaction_payload([begin, table], compression=compression), fde()))
        # Then they are the transaction's own, each now with a valid CRC32 as the file's other events
        assert [e.type for e in inner] == [ev.QUERY, ev.TABLE_MAP]
        assert all(crc_ok(e.raw) for e in inner)
        assert ev.query(inner[0], fde()).text == b"BEGIN"
        assert ev.table_map(inner[1], fde()).table == "item"


def test_a_damaged_transaction_payload_is_refused_as_unreadable():
    begin = event(ev.QUERY, struct.pack("<IIBHH", 1, 0, 4, 0, 0) + b"shop\0BEGIN", checksum=False, log_pos=0)
    with pytest.raises(ValueError, match="payload"):
        list(ev.payload_events(transaction_payload([begin] * 20, damage=True), fde()))


def test_a_transaction_payload_is_read_in_bounded_pieces_and_an_event_past_the_limit_refused():
    # Given a compressed transaction payload of a few KB holding 8 MiB of small events
    begin = event(ev.QUERY, struct.pack("<IIBHH", 1, 0, 4, 0, 0) + b"shop\0BEGIN", checksum=False, log_pos=0)
    many = transaction_payload([begin] * ((8 << 20) // len(begin)))
    assert len(many.raw) < 64 << 10
    # When its events are read; Then they come one by one, not all decoded first
    inner = ev.payload_events(many, fde())
    first = next(iter(inner))
    assert ev.query(first, fde()).text == b"BEGIN"
    assert sum(1 for _ in inner) == (8 << 20) // len(begin) - 1
    # And an inner event that claims more bytes than the limit is refused once that many are read
    huge = bytearray(event(ev.QUERY, b"\0" * 100, checksum=False, log_pos=0))
    huge[9:13] = struct.pack("<I", 1 << 30)  # (its size field)
    claimed = transaction_payload([bytes(huge) + b"\0" * (4 << 20)])
    with pytest.raises(ValueError, match="more than"):
        list(ev.payload_events(claimed, fde(), max_event_bytes=1 << 20))
