"""Archive the events the store does not have yet, from where the last committed segment ended.

Each event is checked to start where the previous one ended, so a segment is the file's bytes from
its first position to its end position, no more, no less. A segment's index is written after its
data: a run killed half-way leaves data without an index, which the next run never reads and never
resumes from. A purged or reset binary log cannot be read any more: the run records the gap on the
next segment (the recoverable window ends there) and goes on from the server's oldest file.

Two runs of one source at once (no reserved concurrency, a cron job beside the function) read the same
events and race for the same next index. The store writes an index only if absent, so one wins; the
other finds the index there and stops, its result saying so (`overtaken`): the archive stays one archive,
and the next run resumes from the winner's newest segment.
"""

from __future__ import annotations

import base64
import logging
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pydantic import BaseModel

from cloudbackup.binlog import events as ev
from cloudbackup.binlog.reach import Reach
from cloudbackup.binlog.replica import ServerLog, check_server, dump_events
from cloudbackup.binlog.segments import (
    SegmentIndex,
    binlog_prefix,
    index_key,
    iso,
    new_segment_key,
    read_indexes,
)
from cloudbackup.dburl import DbSettings
from cloudbackup.errors import ObjectExists, OperationError, UsageError
from cloudbackup.storage.base import ObjectWriter, Storage

log = logging.getLogger(__name__)

SEGMENT_BYTES = 128 << 20  # one object per 128 MiB at most: a replay reads them one by one
FOLLOW_SEGMENT_SECONDS = 10.0  # --follow commits at least this often while events arrive
INDEX_RACE_SECONDS = 5.0  # how long another run's write of the index we lost to may take to land


class ArchiveResult(BaseModel):
    source: str
    segments: int = 0
    events: int = 0
    bytes: int = 0
    position: str | None = None  # where the archive now ends: file:pos
    # What the newest segment reaches (its last_event_time): the newest commit time (MySQL), never a
    # time a session set ahead; the lag is counted from it
    newest_event_time: str | None = None
    gap: str | None = None  # one line: what was lost, when the server no longer had it
    reached_end: bool = False  # read to the server's end (not stopped early by should_stop)
    # One line, when another run of the source committed the segment this one was about to: it stopped
    # there (nothing lost, nothing twice; that run's segments are the archive's)
    overtaken: str | None = None


@dataclass
class _Segment:
    seq: int
    key: str
    writer: ObjectWriter
    binlog_file: str
    first_pos: int
    fde: bytes
    gap_before: str | None
    reach: Reach  # how far in time the archive up to this segment's end is known to reach
    end_pos: int = 0
    events: int = 0
    size: int = 0
    first_ts: int = 0
    earliest_logged_ts: int | None = None  # of the transactions begun in it (events.logged_transaction_start)
    first_gtid: str | None = None
    last_gtid: str | None = None
    rotated_to: str | None = None
    opened: float = field(default_factory=time.monotonic)


# Told of the archive's progress: (the result so far, whether the archive has all the server had).
Progress = Callable[[ArchiveResult, bool], None]


class _ServerReset(Exception):
    """The file we resume in is not the file we archived (the binary log was reset and grew again)."""


class _Overtaken(Exception):
    """Another run committed the segment this run was about to (its message says which)."""


def archive_binlog(
    db: DbSettings,
    store: Storage,
    source: str,
    *,
    follow: bool = False,
    should_stop: Callable[[], bool] | None = None,
    segment_bytes: int = SEGMENT_BYTES,
    commit_seconds: float = FOLLOW_SEGMENT_SECONDS,
    progress: Progress | None = None,
) -> ArchiveResult:
    """Archive up to the server's end (with `follow`, until should_stop() says so, committing every
    `commit_seconds` while events arrive).

    `progress(result, caught_up)` hears of each commit (caught_up False) and, with `follow`, of each
    heartbeat of an idle server (caught_up True: the archive has all the server had): a follower never
    returns, so this is how it can report its lag while it runs."""
    server = check_server(db)
    indexes = read_indexes(store, source)
    _refuse_anothers_archive(store, source, indexes)
    last = indexes[-1] if indexes else None
    result = ArchiveResult(source=source)
    if last is not None:
        result.position = "{}:{}".format(*last.next_position)
        result.newest_event_time = last.last_event_time
    start, gap = _start(server, last)
    run = _Run(db, store, source, server, result, (last.seq if last else 0) + 1, segment_bytes)
    run.commit_seconds = commit_seconds
    run.progress = progress
    try:
        try:
            run.read(start, gap, last, follow=follow, should_stop=should_stop)
        except _ServerReset:
            gap = f"binlog {start[0]} was recreated after {start[1]} was archived: the binary log was reset"
            run.read((server.files[0][0], 4), gap, None, follow=follow, should_stop=should_stop)
    except _Overtaken as lost:
        # Not a failure: the archive is whole, and the run that won goes on with it (a scheduled run that
        # failed here would raise the function's error alarm for nothing)
        log.warning("%s", lost)
        result.overtaken = str(lost)
    return result


def _refuse_anothers_archive(store: Storage, source: str, indexes: list[SegmentIndex]) -> None:
    """Names that differ only where a key cannot hold a character ("db prod", "db_prod") share one
    archive folder: resuming from another server's segments would record a false reset and mix its
    events into that source's archive."""
    others = sorted({index.source for index in indexes} - {source})
    if others:
        raise UsageError(
            f"{store.location(binlog_prefix(source))} holds the binlog archive of source {others[0]!r}, "
            f"which is stored under the same name as {source!r}: give this server another --source"
        )


def _start(server: ServerLog, last: SegmentIndex | None) -> tuple[tuple[str, int], str | None]:
    """Where to read from, and the gap (one line) when the server no longer has that position."""
    if not server.files:
        raise OperationError("the server lists no binary log files (SHOW BINARY LOGS is empty)")
    oldest = (server.files[0][0], 4)
    if last is None:
        return oldest, None
    binlog_file, pos = last.next_position
    archived_from = _another_server(last, server)
    if archived_from:
        # A position is a place in one server's files: another server's file of the same name (a failover,
        # a replica promoted) holds other events, some of them maybe the archived ones again.
        return oldest, (
            f"the archive ends at {binlog_file}:{pos} of {archived_from}, and this is another server "
            f"(server_id {server.server_id}{f', server_uuid {server.uuid}' if server.uuid else ''}: a "
            f"failover?); its binary log is archived from its oldest file, {oldest[0]}"
        )
    sizes = dict(server.files)
    if binlog_file not in sizes:
        return oldest, (
            f"binlog {binlog_file} from position {pos} is no longer on the server (purged before it was "
            f"archived, or the binary log was reset); archiving goes on from {oldest[0]}"
        )
    if sizes[binlog_file] < pos:
        return oldest, (
            f"binlog {binlog_file} is shorter ({sizes[binlog_file]} bytes) than archived ({pos}): "
            "the binary log was reset"
        )
    return (binlog_file, pos), None


class _Run:
    def __init__(
        self,
        db: DbSettings,
        store: Storage,
        source: str,
        server: ServerLog,
        result: ArchiveResult,
        seq: int,
        segment_bytes: int,
    ) -> None:
        self.db, self.store, self.source, self.server = db, store, source, server
        self.result, self.seq, self.segment_bytes = result, seq, segment_bytes
        self.segment: _Segment | None = None
        self.commit_seconds = FOLLOW_SEGMENT_SECONDS
        self.progress: Progress | None = None
        self.reached: float | None = None  # what the last committed segment reaches, carried on

    def read(
        self,
        start: tuple[str, int],
        gap: str | None,
        last: SegmentIndex | None,
        *,
        follow: bool,
        should_stop: Callable[[], bool] | None,
    ) -> None:
        binlog_file, expected = start
        fde: ev.FormatDescription | None = None
        pending_gap = gap
        # (a gap: what was archived before it says nothing of what the server wrote after it)
        self.reached = last.last_time.timestamp() if last is not None and gap is None else None
        self.result.gap = gap  # known from the start: a follower reports it while it runs
        try:
            for raw in dump_events(self.db, self.server.flavour, binlog_file, expected, follow=follow):
                event = ev.parse_event(raw)
                if event.type in ev.HEARTBEATS:  # an idle server (--follow): a moment to commit or stop
                    self._commit_if_due(follow)
                    if self.progress is not None:
                        self.progress(self.result, True)
                    if should_stop is not None and should_stop():
                        break
                    continue
                if event.type == ev.ROTATE and event.artificial:
                    new_file = ev.rotate_target(event, self.server.checksum)
                    if new_file != binlog_file:
                        self._commit(rotated_to=new_file)
                    binlog_file = new_file
                    expected = struct.unpack_from("<Q", event.raw, ev.HEADER_LEN)[0]
                    continue
                if event.type == ev.FORMAT_DESCRIPTION:
                    fde = ev.format_description(event)
                    _check_same_file(last, binlog_file, event)
                    if event.log_pos == 0:
                        continue  # resent for a read that starts mid-file: not at this position
                elif event.artificial:
                    continue
                if fde is None:
                    raise OperationError(f"binlog {binlog_file} sent an event before its format description")
                if event.start != expected:
                    raise OperationError(
                        f"binlog {binlog_file}: expected an event at {expected}, "
                        f"the server sent one at {event.start}"
                    )
                segment = self.segment or self._open(binlog_file, event.start, fde, pending_gap)
                pending_gap = None
                self._add(segment, event)
                expected = event.log_pos
                if event.type == ev.ROTATE:
                    self._commit(rotated_to=ev.rotate_target(event, fde.checksum))
                elif segment.size >= self.segment_bytes:
                    self._commit()
                else:
                    self._commit_if_due(follow)
                if should_stop is not None and should_stop():
                    break
            else:
                self.result.reached_end = True
            self._commit()
        except BaseException:
            if self.segment is not None:
                self.segment.writer.abort()  # no index, no data: the next run reads it again
                self.segment = None
            raise

    def _open(self, binlog_file: str, first_pos: int, fde: ev.FormatDescription, gap: str | None) -> _Segment:
        key = new_segment_key(self.source, self.seq)
        self.segment = _Segment(
            seq=self.seq,
            key=key,
            writer=self.store.open_writer(key),
            binlog_file=binlog_file,
            first_pos=first_pos,
            fde=fde.raw,
            gap_before=gap,
            reach=Reach(self.server.flavour, None if gap else self.reached),
        )
        return self.segment

    @staticmethod
    def _add(segment: _Segment, event: ev.Event) -> None:
        segment.writer.write(event.raw)
        received = time.time()
        if not segment.events:
            segment.first_ts = event.timestamp
        segment.events += 1
        segment.size += event.size
        segment.end_pos = event.log_pos
        segment.reach.add(event, received)
        if ev.logged_transaction_start(event):
            earliest = segment.earliest_logged_ts
            segment.earliest_logged_ts = (
                event.timestamp if earliest is None else min(earliest, event.timestamp)
            )
        if segment.reach.value is None:  # (nothing carried, the first event dated ahead: when received)
            segment.reach.value = float(min(event.timestamp, int(received)))
        gtid = ev.gtid_of(event)
        if gtid is not None:
            segment.first_gtid = segment.first_gtid or gtid
            segment.last_gtid = gtid

    def _committed(self, key: str) -> bool:
        return any(info.key == key for info in self.store.list(key))

    def _committed_soon(self, key: str) -> bool:
        """The index appears within moments: the other run's write of it was still under way when ours was
        refused (S3's 409 to two conditional writes at once, the local store's partial file)."""
        deadline = time.monotonic() + INDEX_RACE_SECONDS
        while not self._committed(key):
            if time.monotonic() >= deadline:
                return False  # (that write failed: no run committed the segment, the next run reads it again)
            time.sleep(0.1)
        return True

    def _overtaken(self, seq: int) -> _Overtaken:
        return _Overtaken(
            f"another run archived binlog segment {seq} of {self.source} first; this run stopped there "
            "(the next run goes on from the newest segment)"
        )

    def _commit_if_due(self, follow: bool) -> None:
        if (
            follow
            and self.segment is not None
            and time.monotonic() - self.segment.opened >= self.commit_seconds
        ):
            self._commit()

    def _commit(self, rotated_to: str | None = None) -> None:
        segment = self.segment
        if segment is None:
            return
        segment.rotated_to = rotated_to
        reached = segment.reach.value
        assert reached is not None  # (set by its first event)
        key = index_key(self.source, segment.seq)
        if self._committed(key):  # before the data: the upload is aborted, no unread object left behind
            raise self._overtaken(segment.seq)
        written = segment.writer.commit()
        index = SegmentIndex(
            seq=segment.seq,
            source=self.source,
            flavour=self.server.flavour,
            server_id=self.server.server_id,
            server_uuid=self.server.uuid,
            binlog_file=segment.binlog_file,
            first_pos=segment.first_pos,
            end_pos=segment.end_pos,
            rotated_to=rotated_to,
            first_event_time=iso(datetime.fromtimestamp(segment.first_ts, UTC)),
            last_event_time=iso(datetime.fromtimestamp(reached, UTC)),
            first_gtid=segment.first_gtid,
            last_gtid=segment.last_gtid,
            events=segment.events,
            key=written.key,
            size=written.size,
            sha256=written.sha256,
            format_description=base64.b64encode(segment.fde).decode(),
            gap_before=segment.gap_before,
            archived_at=iso(datetime.now(UTC)),
            earliest_logged_time=(
                None
                if segment.earliest_logged_ts is None
                else iso(datetime.fromtimestamp(segment.earliest_logged_ts, UTC))
            ),
        )
        if self._committed(key):  # again: the upload took time, and a refused index write raises an alarm
            raise self._overtaken(segment.seq)  # (the bucket's write audit); this object stays unread
        try:
            self.store.put_bytes(key, index.to_json())  # the commit point, only if absent
        except ObjectExists:
            if self._committed_soon(key):  # by another run since we looked (ours, just written, stays unread)
                raise self._overtaken(segment.seq) from None
            raise
        self.segment = None
        self.reached = reached
        self.seq += 1
        self.result.segments += 1
        self.result.events += segment.events
        self.result.bytes += segment.size
        self.result.position = "{}:{}".format(*index.next_position)
        self.result.newest_event_time = index.last_event_time
        log.info(
            "archived %s:%d-%d (%d events)",
            segment.binlog_file,
            segment.first_pos,
            segment.end_pos,
            segment.events,
        )
        if self.progress is not None:
            self.progress(self.result, False)


def _another_server(last: SegmentIndex, server: ServerLog) -> str | None:
    """The server the archive was read from, when it is not `server` (else None)."""
    if last.server_id != server.server_id:
        return f"the server with server_id {last.server_id}"
    if last.server_uuid and server.uuid and last.server_uuid != server.uuid:
        return f"the server with server_uuid {last.server_uuid}"
    return None


def _check_same_file(last: SegmentIndex | None, binlog_file: str, event: ev.Event) -> None:
    """Resuming inside an archived file: its Format_description must be the one archived with it."""
    if last is None or last.binlog_file != binlog_file:
        return
    archived = ev.parse_event(base64.b64decode(last.format_description))
    if archived.timestamp != event.timestamp:
        raise _ServerReset()
