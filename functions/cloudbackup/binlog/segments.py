"""Archived binlog segments: `{source}/_binlog/{seq}-{token}.binlog` and `{source}/_binlog/{seq}.index.json`.

A segment is a run of the server's own events, contiguous in one binlog file. Its index is written
after the data (the commit point): a segment without one was cut short and is never read. Indexes
are numbered; the next run resumes where the highest one ends, so no event is stored twice or skipped.
"""

from __future__ import annotations

import json
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import Any

from cloudbackup.errors import OperationError
from cloudbackup.format.keys import safe_segment
from cloudbackup.format.manifest import Manifest, SnapshotPosition
from cloudbackup.storage.base import Storage
from cloudbackup.storage.bounded import TooLarge, get_bounded

BINLOG_DIR = "_binlog"
INDEX_SUFFIX = ".index.json"
SEGMENT_SUFFIX = ".binlog"
FORMAT = 1
INDEX_FETCHERS = 8
# An index is a few hundred bytes of fixed fields, read whole: far longer, it is none this cloudbackup
# wrote, refused before it fills the memory (a busy archive reads thousands of them).
INDEX_MAX_BYTES = 1 << 20


@dataclass(frozen=True, kw_only=True)
class SegmentIndex:
    format: int = FORMAT
    seq: int
    source: str
    flavour: str
    server_id: int
    server_uuid: str | None = None  # MySQL's: whose binlog positions these are (older indexes: absent)
    binlog_file: str
    first_pos: int  # where the first event starts
    end_pos: int  # where the last event ends (the next segment starts here, or in rotated_to)
    rotated_to: str | None  # the segment ends with the file's Rotate: the next file, from its start
    first_event_time: str  # the first event's header time (its session's)
    # What the archive up to this segment's end reaches (binlog/reach.py): every transaction committed
    # before it is archived. Not the newest header time, which a session's SET TIMESTAMP sets at will.
    last_event_time: str
    first_gtid: str | None
    last_gtid: str | None
    events: int
    key: str
    size: int
    sha256: str
    format_description: str  # base64: the file's Format_description event, needed to replay it
    gap_before: str | None = None  # why events between the previous segment and this one are lost
    archived_at: str
    # The earliest time a transaction begun in this segment was logged with (its session's, where the
    # binlog has no commit time: MariaDB). A replay stopped by a logged time skips a later segment whose
    # earliest is at or after the stop: nothing in it can be logged before. Absent (older indexes, or no
    # such transaction begins in it): not known, the segment is read.
    earliest_logged_time: str | None = None

    @property
    def last_time(self) -> datetime:
        return datetime.fromisoformat(self.last_event_time)

    @property
    def first_time(self) -> datetime:
        return datetime.fromisoformat(self.first_event_time)

    @property
    def earliest_logged(self) -> datetime | None:
        return datetime.fromisoformat(self.earliest_logged_time) if self.earliest_logged_time else None

    @property
    def next_position(self) -> tuple[str, int]:
        return (self.rotated_to, 4) if self.rotated_to else (self.binlog_file, self.end_pos)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=2).encode()

    @classmethod
    def from_json(cls, data: bytes) -> SegmentIndex:
        document: dict[str, Any] = json.loads(data)
        if not isinstance(document, dict):
            raise ValueError("not a JSON object")
        # Fields a later version adds are read past, as the manifest's are: an archive written by an
        # upgraded archiver must stay restorable by the command line an operator has at hand.
        known = {item.name for item in fields(cls)}
        index = cls(**{name: value for name, value in document.items() if name in known})
        index._check_fields()
        return index

    def _check_fields(self) -> None:
        """Every field of the kind it is read as: an index comes from the bucket, and a position given
        as text or a time without its zone would fail deep in a restore instead of here, in one line."""
        for item in fields(self):
            value = getattr(self, item.name)
            kinds = tuple(_FIELD_KINDS[name] for name in str(item.type).split(" | "))
            if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
                raise ValueError(f"{item.name} is {type(value).__name__}, not {item.type}")
        for name in ("first_event_time", "last_event_time", "archived_at", "earliest_logged_time"):
            if getattr(self, name) is None:
                continue  # (an optional one, absent)
            try:
                zone = datetime.fromisoformat(getattr(self, name)).tzinfo
            except ValueError:
                zone = None
            if zone is None:
                raise ValueError(f"{name} {getattr(self, name)!r} is not a time with its zone")


_FIELD_KINDS: dict[str, type] = {"int": int, "str": str, "None": type(None)}


def binlog_prefix(source: str) -> str:
    return f"{safe_segment(source)}/{BINLOG_DIR}/"


def index_key(source: str, seq: int) -> str:
    return f"{binlog_prefix(source)}{seq:010d}{INDEX_SUFFIX}"


def new_segment_key(source: str, seq: int) -> str:
    # A fresh token per attempt: the data of a killed run (no index) is never overwritten or reused.
    return f"{binlog_prefix(source)}{seq:010d}-{secrets.token_hex(4)}{SEGMENT_SUFFIX}"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def read_indexes(store: Storage, source: str) -> list[SegmentIndex]:
    """Every committed segment of `source`, in archive order."""
    keys = sorted(info.key for info in store.list(binlog_prefix(source)) if info.key.endswith(INDEX_SUFFIX))
    # A busy server's archive holds an index per segment, thousands a day: fetched a few at a time.
    with ThreadPoolExecutor(INDEX_FETCHERS) as pool:
        documents = pool.map(lambda key: _index_bytes(store, key), keys)
        indexes = []
        for key, document in zip(keys, documents, strict=True):
            if document is None:
                raise OperationError(
                    f"{store.location(key)} is not a binlog segment index: it is more than "
                    f"{INDEX_MAX_BYTES:,} bytes, longer than any cloudbackup writes"
                )
            try:
                indexes.append(SegmentIndex.from_json(document))
            except (ValueError, TypeError) as exc:
                raise OperationError(f"{store.location(key)} is not a binlog segment index: {exc}") from None
    return indexes


def _index_bytes(store: Storage, key: str) -> bytes | None:
    """The index at `key`; None where it is longer than any index (said by the caller, in order)."""
    try:
        return get_bounded(store, key, INDEX_MAX_BYTES)
    except TooLarge:
        return None


def archived_sources(store: Storage) -> list[str]:
    """Sources with at least one committed segment."""
    found = {
        info.key.split("/", 1)[0]
        for info in store.list("")
        if f"/{BINLOG_DIR}/" in info.key and info.key.endswith(INDEX_SUFFIX)
    }
    return sorted(found)


def follows(previous: SegmentIndex, segment: SegmentIndex) -> bool:
    """`segment` starts exactly where `previous` ended: no event between them is missing."""
    return segment.gap_before is None and (segment.binlog_file, segment.first_pos) == previous.next_position


def after_last_gap(indexes: list[SegmentIndex]) -> list[SegmentIndex]:
    """The segments from the last gap on: a recorded gap, or a segment that does not follow the one before
    (an index lost or deleted), which a replay refuses to cross. Only these reach the newest event."""
    last_gap = max(
        (i for i, s in enumerate(indexes) if s.gap_before or (i > 0 and not follows(indexes[i - 1], s))),
        default=0,
    )
    return indexes[last_gap:]


def segment_holding(indexes: list[SegmentIndex], binlog_file: str, pos: int) -> int | None:
    """Where in `indexes` the segment holding `binlog_file`:`pos` is (the newest, a reset server may
    reuse a file name), or None."""
    found = None
    for i, segment in enumerate(indexes):
        if segment.binlog_file == binlog_file and segment.first_pos <= pos <= segment.end_pos:
            found = i
    return found


def servers_holding(indexes: list[SegmentIndex], binlog_file: str, pos: int) -> list[SegmentIndex]:
    """Of the segments holding `binlog_file`:`pos`, the oldest of each server they were read from: more
    than one when the archive went on from another server (a failover) whose file has that name too."""
    found: dict[tuple[int, str | None], SegmentIndex] = {}
    for segment in indexes:
        if segment.binlog_file == binlog_file and segment.first_pos <= pos <= segment.end_pos:
            found.setdefault((segment.server_id, segment.server_uuid), segment)
    return list(found.values())


def starts_a_replay(manifest: Manifest) -> bool:
    """A backup a point-in-time restore may start from: a whole one (a partial one lacks rows the replay
    needs) that recorded its binlog position."""
    return not manifest.partial and bool(manifest.snapshot.binlog_file and manifest.snapshot.binlog_pos)


def holds_position(indexes: list[SegmentIndex], snapshot: SnapshotPosition) -> bool:
    """One of `indexes` holds the backup's binlog position: a replay can start from that backup."""
    return segment_holding(indexes, snapshot.binlog_file or "", snapshot.binlog_pos or 0) is not None
