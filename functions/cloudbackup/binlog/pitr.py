"""Restore a database as it was at a time: the newest backup before it, then its archived events.

Everything that can be known without touching the server is checked first (a backup before the
time, its binlog position in the archive, no gap up to the time, the archive reaching it), so a
refused restore creates nothing. Then the backup loads into staging as any restore does, the events
replay into staging, and only when all of it succeeded is the staging database published.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from cloudbackup.binlog import events as ev
from cloudbackup.binlog.replay import (
    Replayer,
    ReplayStats,
    check_binlog_statements_allowed,
    segment_events,
    verify_segment,
)
from cloudbackup.binlog.segments import (
    SegmentIndex,
    follows,
    index_key,
    read_indexes,
    segment_holding,
    servers_holding,
    starts_a_replay,
)
from cloudbackup.catalog import (
    CatalogEntry,
    backups_of,
    describe_stores,
    list_backups,
    require_one_source,
)
from cloudbackup.dburl import DbSettings
from cloudbackup.errors import IntegrityError, OperationError, UsageError
from cloudbackup.mysql.definer import DefinerPolicy
from cloudbackup.progress import Progress
from cloudbackup.restore import RestoreResult, checked, choose_target, restore_backup, stop_check
from cloudbackup.storage.base import Storage


class PointInTimeResult(RestoreResult):
    to_time: str
    backup_started_at: str
    binlog_events: int = 0
    binlog_statements: int = 0
    binlog_transactions: int = 0
    binlog_segments: int = 0
    # Where the replay starts (the backup's binlog file:offset), and where the backup's data object is
    binlog_from: str = ""
    store: str = ""
    location: str = ""


@dataclass(frozen=True)
class ReplayPlan:
    entry: CatalogEntry
    store: Storage  # where the archived binlog is
    segments: list[SegmentIndex]  # from the one holding the backup's position to the one reaching the time
    start_file: str
    start_pos: int
    format_description: bytes  # the first segment's file's, which the replay reads its events by
    # The segments after them up to the next gap: an event's time is the one its session had (SET
    # TIMESTAMP), so a segment may end with a time after TIME while transactions committed before it
    # follow. The replay reads on into these (each checked first) until it meets the stop, and, stopped
    # by a time a session logged (MariaDB), through them all: a later transaction logged before TIME means
    # the stop is not known (stamp_order). (Those whose index says none is logged before TIME are skipped.)
    following: list[SegmentIndex] = field(default_factory=list)


def plan_replay(
    stores: Sequence[Storage], database: str, to_time: datetime, source: str | None = None
) -> ReplayPlan:
    entries = list_backups(stores, database=database, source=source)
    # By the server's clock, which the binlog's event times are read by: a backup whose machine's clock
    # was behind would otherwise start from a snapshot that already holds what happened after TIME.
    before = sorted(
        (e for e in entries if e.manifest.snapshot_time < to_time),
        key=lambda e: (e.manifest.snapshot_time, e.manifest.id),
        reverse=True,
    )
    if not entries:
        raise UsageError(f"no complete backup {backups_of(database, source)} in {describe_stores(stores)}")
    if source is None:
        require_one_source(entries, database, "--to-time")
    if not before:
        earliest = min(e.manifest.snapshot_time for e in entries)
        oldest = f"the oldest backup is from {earliest:%Y-%m-%dT%H:%M:%SZ}"
        raise UsageError(f"--to-time {to_time.isoformat()} is before every backup of {database} ({oldest})")
    # A partial backup (schema only, tables left out) lacks rows the replay would need: never a base.
    whole = [e for e in before if not e.manifest.partial]
    if not whole:
        raise UsageError(
            f"every backup of {database} before {to_time.isoformat()} is partial (schema only or tables left "
            f"out, as backup {before[0].id}): a point-in-time restore starts from a whole backup"
        )
    before = whole
    with_position = [e for e in before if starts_a_replay(e.manifest)]
    if not with_position:
        raise OperationError(
            f"backup {before[0].id} of {database} records no binlog position "
            f"({_why_no_position(before[0])}): it cannot start a point-in-time restore"
        )
    entry = with_position[0]
    snapshot = entry.manifest.snapshot
    start_file, start_pos = str(snapshot.binlog_file), int(snapshot.binlog_pos or 0)
    store, indexes = _archive_of(stores, entry)
    window = describe_window(indexes)
    first = segment_holding(indexes, start_file, start_pos)
    if first is None:
        if _past_the_end(indexes, start_file, start_pos):
            raise OperationError(_ends_before_the_backup(entry, to_time, window))
        raise OperationError(
            f"the backup {entry.id}'s binlog position {start_file}:{start_pos} is not in the archive of "
            f"{entry.manifest.source} ({window}): nothing to replay from"
        )
    _refuse_a_position_of_two_servers(entry, indexes, start_file, start_pos)
    chain = [indexes[first]]
    for segment in indexes[first + 1 :]:
        if chain[-1].last_time >= to_time:
            break
        if not follows(chain[-1], segment):
            raise OperationError(
                f"the archived binlog of {entry.manifest.source} has a gap after {chain[-1].last_event_time} "
                f"({segment.gap_before or 'positions do not follow'}): {to_time.isoformat()} "
                f"cannot be reached from backup {entry.id}"
            )
        chain.append(segment)
    if chain[-1].last_time < to_time and chain[-1].last_time < entry.manifest.snapshot_time:
        raise OperationError(_ends_before_the_backup(entry, to_time, window))
    if chain[-1].last_time < to_time:
        # Not the time the archive ran: a transaction begun before it (MariaDB logs statement start
        # times) may commit after it, so only an archived event's time bounds what the archive holds.
        raise OperationError(
            f"--to-time {to_time.isoformat()} is after the archived binlog of {entry.manifest.source} "
            f"({window}): the newest --to-time it reaches is {chain[-1].last_event_time} (before the newest "
            f"archived event); for a later one, archive again (cloudbackup binlog archive) once the server "
            f"has written past {to_time.isoformat()} (FLUSH BINARY LOGS writes an event)"
        )
    for segment in chain:  # verify before use: every byte replayed is the archived one
        verify_segment(store, segment)
    following: list[SegmentIndex] = []
    for segment in indexes[indexes.index(chain[-1]) + 1 :]:
        if not follows((following or chain)[-1], segment):
            break
        following.append(segment)
    return ReplayPlan(
        entry=entry,
        store=store,
        segments=chain,
        start_file=start_file,
        start_pos=start_pos,
        format_description=_format_description(store, chain[0]),
        following=following,
    )


def _refuse_a_position_of_two_servers(
    entry: CatalogEntry, indexes: list[SegmentIndex], binlog_file: str, pos: int
) -> None:
    """The backup records a file and position, not the server: where the archive holds that place in
    two servers' files (it went on from another server after a failover), which events follow the
    backup cannot be told, and replaying the other server's would give another database."""
    holders = servers_holding(indexes, binlog_file, pos)
    if len(holders) < 2:
        return
    later = indexes.index(holders[-1])
    gap = next((s.gap_before for s in reversed(indexes[: later + 1]) if s.gap_before), None)
    servers = ", ".join(
        f"server_id {h.server_id}" + (f" ({h.server_uuid})" if h.server_uuid else "") for h in holders
    )
    raise OperationError(
        f"the backup {entry.id}'s binlog position {binlog_file}:{pos} is in the archive of "
        f"{entry.manifest.source} for {len(holders)} servers ({servers}; the gap between them: "
        f"{gap or 'positions do not follow'}): which one the backup was taken on is not "
        "recorded, so nothing is replayed from it; restore from a backup taken after the change of server"
    )


def _format_description(store: Storage, segment: SegmentIndex) -> bytes:
    """The format description the index holds, read before anything changes: an index rewritten in
    the bucket may hold anything there, and the replay would fail on it only after the backup loaded."""
    try:
        raw = base64.b64decode(segment.format_description, validate=True)
        event = ev.parse_event(raw)
        ev.format_description(event)
    except ValueError as exc:  # (binascii.Error is one)
        raise IntegrityError(
            f"{store.location(index_key(segment.source, segment.seq))} holds no binlog format description "
            f"({exc}): nothing to replay from"
        ) from None
    if event.type != ev.FORMAT_DESCRIPTION:
        raise IntegrityError(
            f"{store.location(index_key(segment.source, segment.seq))} holds a binlog event of type "
            f"{event.type} as its format description: nothing to replay from"
        )
    return raw


def _ends_before_the_backup(entry: CatalogEntry, to_time: datetime, window: str) -> str:
    """The archive has not run since the backup: no time after the backup is reachable before it does."""
    started = f"{entry.manifest.started_at:%Y-%m-%dT%H:%M:%SZ}"
    return (
        f"--to-time {to_time.isoformat()} is after the archived binlog of {entry.manifest.source} "
        f"({window}), which ends before backup {entry.id} started ({started}): "
        f"archive again (cloudbackup binlog archive) once the server has written past {to_time.isoformat()} "
        "(FLUSH BINARY LOGS writes an event), then restore"
    )


def _past_the_end(indexes: list[SegmentIndex], binlog_file: str, pos: int) -> bool:
    """Whether `binlog_file`:`pos` comes after the newest archived event (same binlog base name)."""
    next_file, next_pos = indexes[-1].next_position
    if binlog_file == next_file:
        return pos >= next_pos
    base, _, number = binlog_file.rpartition(".")
    next_base, _, next_number = next_file.rpartition(".")
    return base == next_base and number.isdigit() and next_number.isdigit() and int(number) > int(next_number)


def _why_no_position(entry: CatalogEntry) -> str:
    """What keeps a backup from recording its position: MySQL has a cause besides the binary log."""
    if entry.manifest.server.flavour == "mysql":
        return (
            "the binary log was off, or the server never paused writing and the backup user may not "
            "LOCK TABLES; the backup's warning said which"
        )
    return "was the binary log on?"


def restore_to_time(
    db: DbSettings,
    stores: Sequence[Storage],
    database: str,
    to_time: datetime,
    *,
    target_database: str | None = None,
    in_place: bool = False,
    source: str | None = None,
    definer: DefinerPolicy = "keep",
    jobs: int = 2,
    dry_run: bool = False,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> PointInTimeResult:
    """`dry_run`: every check a real run makes before it changes anything (the backup and every
    segment verified, the target checked), then what it would do; nothing is changed.
    `should_stop()` is asked as restore_backup asks it, and between the replayed events (all in staging)."""
    plan = plan_replay(stores, database, to_time, source)
    # (found by the replay otherwise, once the whole backup is loaded; a dry run checks it too)
    check_binlog_statements_allowed(db, base64.b64decode(plan.segments[0].format_description), database)
    stats = ReplayStats()

    def replay(staging: str) -> bytes:
        target = choose_target(db, database, target_database, in_place)
        replayer = Replayer(db, database, staging, to_time, published_as=target)
        stop = stop_check(should_stop, target)
        try:
            replayer.start_with(plan.format_description)
            replayer.apply(checked(_events_from(plan, replayer.skips), stop))
        finally:
            replayer.close()
        nonlocal stats
        stats = replayer.stats
        return replayer.held_events

    result = restore_backup(
        db,
        plan.entry,
        target_database=target_database,
        in_place=in_place,
        definer=definer,
        jobs=jobs,
        dry_run=dry_run,
        progress=progress,
        before_publish=replay,
        should_stop=should_stop,
    )
    return PointInTimeResult(
        **result.model_dump(),
        to_time=to_time.isoformat(),
        backup_started_at=plan.entry.manifest.started_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        binlog_events=stats.events,
        binlog_statements=stats.statements,
        binlog_transactions=stats.transactions,
        binlog_segments=len(plan.segments),
        binlog_from=f"{plan.start_file}:{plan.start_pos}",
        store=plan.entry.store.kind,
        location=plan.entry.store.location(plan.entry.manifest.data.key),
    )


def _events_from(plan: ReplayPlan, skips: Callable[[SegmentIndex], bool]) -> Iterator[tuple[str, ev.Event]]:
    """(file:pos, event) from the backup's position on, through the planned segments, then on through
    the ones following them (each verified before it is read) the replay does not skip (asked as each
    comes, once the events before it are read), for as long as it asks."""
    skipped = False
    for n, segment in enumerate([*plan.segments, *plan.following]):
        if n >= len(plan.segments):  # (the planned ones were, before anything changed)
            if skips(segment):
                skipped = True
                continue
            verify_segment(plan.store, segment)
        if skipped:  # (the skipped one may have begun this segment's file: its events are read by this)
            fde = ev.parse_event(_format_description(plan.store, segment))
            yield f"{segment.binlog_file}:{fde.start}", fde
            skipped = False
        for event in segment_events(plan.store, segment):
            if n == 0 and segment.binlog_file == plan.start_file and event.start < plan.start_pos:
                if event.type == ev.FORMAT_DESCRIPTION:
                    yield f"{segment.binlog_file}:{event.start}", event
                continue
            yield f"{segment.binlog_file}:{event.start}", event


def _archive_of(stores: Sequence[Storage], entry: CatalogEntry) -> tuple[Storage, list[SegmentIndex]]:
    """The store holding the source's archived binlog: the backup's own first."""
    ordered = [entry.store, *(s for s in stores if s is not entry.store)]
    for store in ordered:
        indexes = read_indexes(store, entry.manifest.source)
        if indexes:
            return store, indexes
    raise OperationError(
        f"no archived binlog for {entry.manifest.source}: run cloudbackup binlog archive on it first"
    )


def describe_window(indexes: list[SegmentIndex]) -> str:
    """One phrase: the archived span, and where its last gap is."""
    if not indexes:
        return "nothing archived"
    text = f"archived from {indexes[0].first_event_time} to {indexes[-1].last_event_time}"
    gaps = [s for s in indexes if s.gap_before]
    if gaps:
        text += f", with a gap before {gaps[-1].first_event_time}"
    return text
