"""The recoverable window per source and database: from the oldest backup whose binlog position the
archive holds, without a gap after it, to the newest archived event."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, Field

from cloudbackup.binlog.segments import (
    SegmentIndex,
    after_last_gap,
    archived_sources,
    follows,
    holds_position,
    read_indexes,
    starts_a_replay,
)
from cloudbackup.catalog import CatalogEntry, list_backups
from cloudbackup.storage.base import Storage


class Gap(BaseModel):
    after: str | None  # the last event time before it
    before: str  # the first event time after it
    reason: str


class Window(BaseModel):
    source: str
    database: str
    recoverable_from: str | None = None  # the start time of the backup the window starts with
    recoverable_to: str | None = None  # the newest archived event
    backup_id: str | None = None
    gaps: list[Gap] = Field(default_factory=list)
    note: str | None = None


def binlog_status(stores: Sequence[Storage]) -> list[Window]:
    windows = []
    for store in stores:
        for source in archived_sources(store):
            indexes = read_indexes(store, source)
            gaps = _gaps(indexes)
            backups = list_backups(stores, source=source)
            for database in sorted({e.manifest.database for e in backups}):
                mine = [e for e in backups if e.manifest.database == database]
                windows.append(_window(source, database, mine, indexes, gaps))
    return windows


def _gaps(indexes: list[SegmentIndex]) -> list[Gap]:
    gaps = []
    for previous, segment in zip([None, *indexes], indexes, strict=False):
        if segment.gap_before or (previous is not None and not follows(previous, segment)):
            gaps.append(
                Gap(
                    after=previous.last_event_time if previous else None,
                    before=segment.first_event_time,
                    reason=segment.gap_before or "positions do not follow",
                )
            )
    return gaps


def _window(
    source: str, database: str, backups: list[CatalogEntry], indexes: list[SegmentIndex], gaps: list[Gap]
) -> Window:
    window = Window(source=source, database=database, gaps=gaps)
    # Only a backup after the last gap reaches the newest event (the replay refuses to cross a gap).
    reachable = after_last_gap(indexes)
    for entry in sorted(backups, key=lambda e: e.manifest.snapshot_time):  # oldest first
        if starts_a_replay(entry.manifest) and holds_position(reachable, entry.manifest.snapshot):
            window.recoverable_from = entry.manifest.snapshot_time.isoformat()
            # (the newest event's whole second may come before a backup started within it)
            newest = indexes[-1].last_time
            window.recoverable_to = max(newest, entry.manifest.snapshot_time).isoformat()
            window.backup_id = entry.id
            return window
    window.note = "no backup whose binlog position is archived after the last gap: take a backup"
    return window


def describe(window: Window) -> str:
    where = f"{window.source} {window.database}: "
    if window.recoverable_from is None:
        line = where + (window.note or "not recoverable")
    else:
        line = where + f"recoverable from {window.recoverable_from} to {window.recoverable_to}"
    if window.gaps:
        gap = window.gaps[-1]
        line += f"; gap before {gap.before}: {gap.reason}"
    return line
