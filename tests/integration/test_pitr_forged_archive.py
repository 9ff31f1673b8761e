"""An archived binlog someone rewrote in the bucket (events cut short, an index with fields of the wrong
kind), the checksums made to match: the point-in-time restore refuses it in one line, as an operation
error, and creates nothing; it never fails inside on what it reads."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import struct
import zlib
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from cloudbackup.backup import backup_database
from cloudbackup.binlog import events as ev
from cloudbackup.binlog.archive import archive_binlog
from cloudbackup.binlog.pitr import restore_to_time
from cloudbackup.binlog.segments import index_key, read_indexes
from cloudbackup.catalog import list_backups
from cloudbackup.dburl import DbSettings
from cloudbackup.errors import OperationError
from cloudbackup.mysql.staging import MARK
from cloudbackup.storage.local import LocalStorage
from tests.fixtures.compare import q
from tests.fixtures.mariadb import admin_connect
from tests.integration.pitr_helpers import next_second, run, schema_exists

pytestmark = pytest.mark.integration


def _archived(log_server: Any, make_log_database: Any, tmp_path: Path) -> tuple[str, LocalStorage, Any]:
    """A backup, then rows and a table made in the window, archived past the time returned."""
    db = make_log_database("forged_archive")
    run(log_server, f"CREATE TABLE {q(db)}.t (id INT PRIMARY KEY, v VARCHAR(20))")
    store = LocalStorage(tmp_path / "store")
    backup_database(log_server, db, store, source="src")
    run(log_server, f"INSERT INTO {q(db)}.t VALUES (1, 'one')", f"CREATE TABLE {q(db)}.made (a INT)")
    to_time = next_second()
    run(log_server, f"CREATE TABLE {q(db)}.later (a INT)")  # (the archive reaches past the time)
    archive_binlog(log_server, store, "src")
    return db, store, to_time


def _cut(store: LocalStorage, db: str, wanted: Any, keep: int) -> None:
    """Cut the body of the first event after the backup's position that `wanted(event)` picks to `keep`
    bytes, its size, CRC32, the segment's SHA-256 and size and its index made to match."""
    snapshot = list_backups([store], database=db)[0].manifest.snapshot
    for segment in read_indexes(store, "src"):
        path = Path(store.location(segment.key))
        events, _ = ev.split_events(path.read_bytes())
        parts, cut = [], False  # (joined once: the session's binlog may hold big rows of other tests)
        for event in events:
            # (the archive may start in an older file than the backup's: its events are before it)
            after = (segment.binlog_file, event.start) >= (snapshot.binlog_file, snapshot.binlog_pos or 0)
            if cut or not after or not wanted(event):
                parts.append(event.raw)
                continue
            header = bytearray(event.raw[: ev.HEADER_LEN])
            body = event.raw[ev.HEADER_LEN : ev.HEADER_LEN + keep]
            struct.pack_into("<I", header, 9, ev.HEADER_LEN + len(body) + ev.CHECKSUM_LEN)
            forged = bytes(header) + body
            parts.append(forged + zlib.crc32(forged).to_bytes(4, "little"))
            cut = True
        if cut:
            data = b"".join(parts)
            path.write_bytes(data)
            digest = hashlib.sha256(data).hexdigest()
            forged_index = dataclasses.replace(segment, sha256=digest, size=len(data))
            Path(store.location(index_key("src", segment.seq))).write_bytes(forged_index.to_json())
            return
    raise AssertionError("no such event after the backup's position")


CUT_EVENTS = {
    "table map": (lambda e, db: e.type == ev.TABLE_MAP and db.encode() in e.raw, 9),
    "rows": (lambda e, db: e.type in ev.ROWS_EVENTS, 3),
    "query": (lambda e, db: e.type == ev.QUERY and b"made" in e.raw, 10),
}


@pytest.mark.parametrize("kind", sorted(CUT_EVENTS))
def test_an_event_cut_short_in_the_archive_is_refused_in_one_line(
    log_server, make_log_database, tmp_path, kind
):
    # Given an archive whose event after the backup is cut short, with its checksums made to match
    db, store, to_time = _archived(log_server, make_log_database, tmp_path)
    wanted, keep = CUT_EVENTS[kind]
    _cut(store, db, lambda e: wanted(e, db), keep)
    # When the database is restored to a time after it
    # Then the restore says, in one line, which event it cannot read, and nothing was published
    _refused_unread(log_server, store, db, to_time)


def test_an_event_claiming_fewer_bytes_than_its_header_is_refused_in_one_line(
    log_server, make_log_database, tmp_path
):
    # Given an archive where the event after the backup's position says it is 5 bytes long
    db, store, to_time = _archived(log_server, make_log_database, tmp_path)
    snapshot = list_backups([store], database=db)[0].manifest.snapshot
    (segment,) = [s for s in read_indexes(store, "src") if s.binlog_file == snapshot.binlog_file]
    path = Path(store.location(segment.key))
    data = bytearray(path.read_bytes())
    at = sum(e.size for e in ev.split_events(bytes(data))[0] if e.start < (snapshot.binlog_pos or 0))
    struct.pack_into("<I", data, at + 9, 5)
    path.write_bytes(data)
    forged_index = dataclasses.replace(segment, sha256=hashlib.sha256(data).hexdigest())
    Path(store.location(index_key("src", segment.seq))).write_bytes(forged_index.to_json())
    # When the database is restored to a time after it
    # Then the restore says, in one line, that the segment cannot be read; nothing was published
    _refused_unread(log_server, store, db, to_time)


def _refused_unread(log_server: DbSettings, store: LocalStorage, db: str, to_time: datetime) -> None:
    """A restore of `db` to `to_time` is refused in one line saying what cannot be read, and publishes
    nothing."""
    target = db + "_t"
    with pytest.raises(OperationError) as refused:
        restore_to_time(log_server, [store], db, to_time, target_database=target)
    message = str(refused.value)
    assert "cannot be read" in message
    assert "\n" not in message
    assert not schema_exists(log_server, target)


def _with_body(event: ev.Event, body: bytes) -> bytes:
    """The event's bytes with `body` after its header: its size and CRC32 made to match."""
    header = bytearray(event.raw[: ev.HEADER_LEN])
    struct.pack_into("<I", header, 9, ev.HEADER_LEN + len(body) + ev.CHECKSUM_LEN)
    raw = bytes(header) + body
    return raw + zlib.crc32(raw).to_bytes(4, "little")


def test_a_format_description_moving_table_map_names_is_refused_before_rows_are_sent(
    log_server, make_log_database, tmp_path
):
    # Given a backup of a table shaped as one of another database, a row inserted, archived
    db, victim = make_log_database("fde_mid"), make_log_database("fde_v")
    run(log_server, f"CREATE TABLE {q(db)}.t (a INT)", f"CREATE TABLE {q(victim)}.vt (a INT)")
    store = LocalStorage(tmp_path / "store")
    backup_database(log_server, db, store, source="src")
    run(log_server, f"INSERT INTO {q(db)}.t VALUES (42)")
    to_time = next_second()
    run(log_server, f"CREATE TABLE {q(db)}.later (a INT)")  # (the archive reaches past the time)
    archive_binlog(log_server, store, "src")
    # and, between the insert's Table_map and its rows, a format description whose Table_map post-header
    # length points into the map's table name, which holds a map of the other database's table (MariaDB
    # reads a map's names there: the insert would go into the other database)
    target = db + "_t"
    staging_len = len(target) + len(MARK) + 8
    snapshot = list_backups([store], database=db)[0].manifest.snapshot
    (segment,) = [s for s in read_indexes(store, "src") if s.binlog_file == snapshot.binlog_file]
    path = Path(store.location(segment.key))
    events, _ = ev.split_events(path.read_bytes())
    fde = ev.parse_event(base64.b64decode(segment.format_description))
    parts = []
    for event in events:
        if (
            event.type != ev.TABLE_MAP
            or event.start < (snapshot.binlog_pos or 0)
            or db.encode() not in event.raw
        ):
            parts.append(event.raw)
            continue
        body = event.raw[ev.HEADER_LEN : -ev.CHECKSUM_LEN]
        at = 8 + 1 + body[8] + 1
        other = bytes([len(victim)]) + victim.encode() + b"\0\x02vt\0" + bytes([1, 3, 0, 1])
        parts.append(_with_body(event, body[:at] + bytes([len(other)]) + other + body[at + 1 + body[at] :]))
        fde_body = bytearray(fde.raw[ev.HEADER_LEN : -ev.CHECKSUM_LEN])
        fde_body[57 + ev.TABLE_MAP - 1] = 8 + 1 + staging_len + 1 + 1
        parts.append(_with_body(fde, bytes(fde_body)))
    data = b"".join(parts)
    path.write_bytes(data)
    forged_index = dataclasses.replace(segment, sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    Path(store.location(index_key("src", segment.seq))).write_bytes(forged_index.to_json())
    # When the database is restored to a time after it
    with pytest.raises(OperationError) as refused:
        restore_to_time(log_server, [store], db, to_time, target_database=target)
    # Then it is refused in one line; the other database's table has no row, and nothing was published
    message = str(refused.value)
    assert "format description" in message
    assert "\n" not in message
    assert not schema_exists(log_server, target)
    with admin_connect(log_server) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT COUNT(*) FROM {q(victim)}.vt")
        assert cur.fetchone()[0] == 0


def _forge_index(store: LocalStorage, field: str, value: object) -> None:
    """Set one field of every index to `value` (the rest as archived)."""
    for segment in read_indexes(store, "src"):
        document = json.loads(segment.to_json())
        document[field] = value
        Path(store.location(index_key("src", segment.seq))).write_text(json.dumps(document))


INDEX = "is not a binlog segment index"
NO_FORMAT = "holds no binlog format description"
# The field forged, its value, what the refusal says
FORGED_INDEX_FIELDS = {
    "format description not base64": ("format_description", "!!", NO_FORMAT),
    "format description cut short": ("format_description", base64.b64encode(b"\0" * 30).decode(), NO_FORMAT),
    "position as text": ("first_pos", "4", INDEX),
    "end position as text": ("end_pos", "9999", INDEX),
    "time not a time": ("last_event_time", "yesterday", INDEX),
    "time without a zone": ("last_event_time", "2999-01-01T00:00:00", INDEX),
    "file as a number": ("binlog_file", 7, INDEX),
}


@pytest.mark.parametrize("forged", sorted(FORGED_INDEX_FIELDS))
def test_an_index_with_a_field_of_the_wrong_kind_is_refused_in_one_line(
    log_server, make_log_database, tmp_path, forged
):
    # Given an archive whose segment indexes hold a field of the wrong kind
    db, store, to_time = _archived(log_server, make_log_database, tmp_path)
    field, value, said = FORGED_INDEX_FIELDS[forged]
    _forge_index(store, field, value)
    target = db + "_t"
    # When the database is restored to a time in it
    with pytest.raises(OperationError) as refused:
        restore_to_time(log_server, [store], db, to_time, target_database=target)
    # Then the restore names the index it cannot use and why, in one line; nothing was published
    message = str(refused.value)
    assert said in message
    assert field in message or said == NO_FORMAT
    assert "\n" not in message
    assert not schema_exists(log_server, target)
