"""The catalog: complete backups (those with a manifest) across the configured stores.

Listing, `latest` per database, and retention (prune by count and age per source + database).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from cloudbackup.binlog.segments import (
    SegmentIndex,
    after_last_gap,
    holds_position,
    read_indexes,
    starts_a_replay,
)
from cloudbackup.errors import CloudBackupError, OperationError, UsageError
from cloudbackup.format.keys import (
    backup_stem,
    data_key_stem,
    is_manifest_key,
    key_mismatch,
    manifest_key,
    safe_segment,
)
from cloudbackup.format.manifest import Manifest, NewerFormat
from cloudbackup.storage.base import ObjectInfo, Storage
from cloudbackup.storage.bounded import get_bounded

# A manifest is read whole to be parsed: one of 100,000 tables is ~45 MB. Longer, it is no manifest
# this cloudbackup wrote, and is skipped as unreadable before it fills the memory.
MANIFEST_MAX_BYTES = 256 << 20
log = logging.getLogger(__name__)

MANIFEST_FETCHERS = 8
# The version of every JSON object the CLI prints (README: JSON output). Fields are only ever added;
# a change that removes or redefines one would bump it.
JSON_FORMAT = 1
# A backup id may be shortened to a unique prefix of this many characters or more (as git and restic).
MIN_ID_PREFIX = 4
_HEX = re.compile(r"[0-9A-Fa-f]+")


@dataclass(frozen=True)
class CatalogEntry:
    manifest: Manifest
    store: Storage
    manifest_key: str

    @property
    def id(self) -> str:
        return self.manifest.id

    def summary(self) -> dict[str, Any]:
        """The `list --json` object: operators' scripts read these fields, only add to them."""
        m = self.manifest
        return {
            "format": JSON_FORMAT,
            "id": m.id,
            "source": m.source,
            "database": m.database,
            "created_at": m.started_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "finished_at": m.finished_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "store": self.store.kind,
            "location": self.store.location(m.data.key),
            "manifest": self.store.location(self.manifest_key),
            "size": m.data.size,
            "sha256": m.data.sha256,
            "compression": m.compression,
            "tables": len(m.tables),
            "rows": sum(t.rows for t in m.tables),
            "server_version": m.server.version,
            "schema_only": m.schema_only,
            "excluded_tables": list(m.excluded_tables),
            "unrestorable": list(m.unrestorable),
            "excluded_views": list(m.excluded_views),
            "excluded_triggers": list(m.excluded_triggers),
            "programs_naming_excluded": list(m.programs_naming_excluded),
            "lower_case_table_names": m.lower_case_table_names,
            # (as mysql/name_case.describe words them; the catalog reads no SQL)
            "name_case_references": [
                f"{r.kind} {_quoted(r.name)} names {_quoted(r.written)} for table {_quoted(r.means)}"
                for r in m.name_case_references
            ],
        }


class NewestRefused(OperationError):
    """The newest backup of a database is refused, and the caller asked for the newest."""


@dataclass(frozen=True)
class RefusedManifest:
    """A manifest that parses but is not at its own key, points at another key's data object, or
    whose data object is gone or cut short."""

    manifest: Manifest
    store: Storage
    manifest_key: str
    reason: str

    def line(self) -> str:
        return f"refusing {self.store.location(self.manifest_key)}: {self.reason}"


@dataclass
class Catalog:
    entries: list[CatalogEntry]  # newest first
    refused: list[RefusedManifest]
    # Backups whole and in place under a deeper prefix (the store given as `s3://bucket` for the backups'
    # `s3://bucket/prod`): another store's, not refused ones. Location of that store -> how many.
    elsewhere: dict[str, int] = field(default_factory=dict)

    def warnings(self) -> list[str]:
        """What a listing tells the operator beside the backups: each refused manifest, and once per
        other store the backups found under it (a store given without its prefix would else read as
        thousands of refusals)."""
        return [r.line() for r in self.refused] + [
            f"{count} backup(s) under {where} are not listed: another store's "
            "(give that location as the store to see them)"
            for where, count in self.elsewhere.items()
        ]


def scan_backups(
    stores: Iterable[Storage], *, database: str | None = None, source: str | None = None
) -> Catalog:
    """Complete backups, newest first, and the manifests refused (never listed, restored or pruned)."""
    prefix = ""
    if source is not None:
        prefix = safe_segment(source) + "/"
        if database is not None:
            prefix += safe_segment(database) + "/"
    candidates: list[tuple[Storage, str]] = []
    sizes: dict[tuple[int, str], int] = {}  # every object listed, by (store, key): what a data object holds
    for store in stores:
        for info in store.list(prefix):
            sizes[(id(store), info.key)] = info.size
            if is_manifest_key(info.key) and (
                database is None or f"/{safe_segment(database)}/" in f"/{info.key}"
            ):
                candidates.append((store, info.key))
    # Manifests are small; fetching them a few at a time keeps `list` quick on a bucket with many.
    with ThreadPoolExecutor(MANIFEST_FETCHERS) as pool:
        manifests = list(pool.map(lambda c: _read_manifest(*c), candidates))
    catalog = Catalog(entries=[], refused=[])
    for (store, key), manifest in zip(candidates, manifests, strict=True):
        if manifest is None:
            continue
        if nested := _nested_prefix(key, manifest):
            where = store.location(nested)
            catalog.elsewhere[where] = catalog.elsewhere.get(where, 0) + 1
            continue
        reason = key_mismatch(key, manifest) or _data_mismatch(
            manifest, sizes.get((id(store), manifest.data.key))
        )
        if reason:
            catalog.refused.append(RefusedManifest(manifest, store, key, reason))
        elif (database is None or manifest.database == database) and (
            source is None or manifest.source == source
        ):
            catalog.entries.append(CatalogEntry(manifest=manifest, store=store, manifest_key=key))
    catalog.entries.sort(key=_order, reverse=True)
    return catalog


def _nested_prefix(key: str, manifest: Manifest) -> str:
    """The prefix (ending in /) before the manifest's own key, when `key` is that key one prefix deeper."""
    own = manifest_key(backup_stem(manifest.source, manifest.database, manifest.started_at, manifest.id))
    return key.removesuffix(own) if key.endswith("/" + own) else ""


def _data_mismatch(manifest: Manifest, size: int | None) -> str:
    """Why the data object beside a manifest cannot be its backup ("" when its size is right): gone, or
    cut short. Seen in the listing alone, so `latest` never picks a backup that cannot restore."""
    if size is None:
        return "its data object is missing"
    if size != manifest.data.size:
        return f"its data object has {size:,} bytes, the manifest says {manifest.data.size:,}"
    return ""


def list_backups(
    stores: Iterable[Storage], *, database: str | None = None, source: str | None = None
) -> list[CatalogEntry]:
    """Complete backups, newest first. Objects without a manifest are never listed; refused manifests
    are named in a warning (stderr for the CLI, the log for a function) and never listed either."""
    catalog = scan_backups(stores, database=database, source=source)
    for line in catalog.warnings():
        log.warning("%s", line)
    return catalog.entries


def _read_manifest(store: Storage, key: str) -> Manifest | None:
    """The manifest at `key`; None when unreadable or deleted since the listing (a concurrent prune).
    Any other failure is raised: skipping it could make `latest` silently pick an older backup."""
    try:
        return Manifest.from_json(get_bounded(store, key, MANIFEST_MAX_BYTES))
    except NewerFormat as exc:  # not damaged: this cloudbackup is older than the backup
        log.warning("skipping %s: %s", store.location(key), exc)
        return None
    except ValueError as exc:  # pydantic's ValidationError included
        log.warning("skipping unreadable manifest %s: %s", store.location(key), exc)
        return None
    except OperationError as exc:
        if any(info.key == key for info in store.list(key)):
            raise
        log.warning("skipping %s: %s", store.location(key), exc)
        return None


def find_backup(
    stores: Sequence[Storage],
    ref: str,
    *,
    database: str | None = None,
    source: str | None = None,
    newest_must_restore: bool = False,
) -> CatalogEntry:
    """`ref` is a backup id, a unique prefix of one (MIN_ID_PREFIX+ characters), or `latest` (newest
    complete backup of `database`). `newest_must_restore`: `latest` fails when a newer backup of the
    same source and database is refused (a drill proves the newest backup, not the newest that is whole)."""
    if _HEX.fullmatch(ref) or ref.casefold() == "latest":  # ids are lower-case hex: the case says nothing
        ref = ref.lower()
    catalog = scan_backups(stores, database=database, source=source)
    for refused in catalog.refused:
        if refused.manifest.id == ref:  # asked for by id: say why it is refused, not "no such backup"
            raise OperationError(f"backup {ref} is refused: {refused.line()}")
    for line in catalog.warnings():
        log.warning("%s", line)
    entries = catalog.entries
    if ref == "latest":
        # A partial backup (--schema-only, --exclude-table) is restored only when named by its id.
        partial = [e for e in entries if e.manifest.partial]
        entries = [e for e in entries if not e.manifest.partial]
        if database is None:
            databases = {e.manifest.database for e in entries}
            if len(databases) > 1:
                raise UsageError("--backup latest needs --database NAME: the stores hold several databases")
        if source is None:
            require_one_source(entries, database, "--backup latest")
        if not entries:
            what = backups_of(database, source) or "of any database"
            hint = f" ({len(partial)} partial backup(s): name one by its id)" if partial else ""
            hint = hint or spelt_otherwise(stores, database, source)
            raise UsageError(f"no complete backup {what} in {describe_stores(stores)}{hint}")
        if newest_must_restore:
            _refuse_newer_refused(entries[0], catalog.refused)
        return entries[0]
    matches = [e for e in entries if e.id == ref]
    if not matches and len(ref) >= MIN_ID_PREFIX:
        matches = [e for e in entries if e.id.startswith(ref)]
        ids = sorted({e.id for e in matches})
        if len(ids) > 1:
            shown = ", ".join(f"{e.id} ({e.manifest.database}, {e.summary()['created_at']})" for e in matches)
            raise UsageError(f"backup id {ref!r} is ambiguous: {len(ids)} backups start with it: {shown}")
    if not matches and len(ref) >= MIN_ID_PREFIX:
        # named by the first characters of a refused backup's id, as by its whole id: say why
        refused_ids = sorted({r.manifest.id for r in catalog.refused if r.manifest.id.startswith(ref)})
        if len(refused_ids) == 1:
            refused = next(r for r in catalog.refused if r.manifest.id == refused_ids[0])
            raise OperationError(f"backup {refused.manifest.id} is refused: {refused.line()}")
    if not matches:
        short = (
            f" (an id prefix needs {MIN_ID_PREFIX} or more characters)" if len(ref) < MIN_ID_PREFIX else ""
        )
        of = backups_of(database, source)
        short = short or spelt_otherwise(stores, database, source)
        if not short and not _HEX.fullmatch(ref):  # `lates`, `newest`: no id could ever match
            short = " (a backup id is hex: give an id, a prefix of one, or latest)"
        raise UsageError(
            f"no complete backup{' ' + of if of else ''} with id {ref!r} in {describe_stores(stores)}{short}"
        )
    return matches[0]


def require_one_source(entries: Iterable[CatalogEntry], database: str | None, what: str) -> None:
    """`shop` of production and of staging in one store: which one `what` (the newest of them) means
    is a guess, and restoring the other server's data in place is the worst one."""
    sources = sorted({e.manifest.source for e in entries})
    if len(sources) > 1:
        named = ", ".join(repr(name) for name in sources)
        of = backups_of(database, None)
        raise UsageError(f"{what} needs --source NAME: the backups {of} come from several sources ({named})")


def _refuse_newer_refused(chosen: CatalogEntry, refused: Iterable[RefusedManifest]) -> None:
    """A whole backup of the same source and database newer than `chosen` that cannot restore (its data
    object gone or cut short) fails the pick: proving the older one would report the newest as fine."""
    m = chosen.manifest
    newer = [
        r
        for r in refused
        if (r.manifest.source, r.manifest.database) == (m.source, m.database)
        and not r.manifest.partial
        and (r.manifest.started_at, r.manifest.id) > _order(chosen)
    ]
    if newer:
        newest = max(newer, key=lambda r: (r.manifest.started_at, r.manifest.id))
        raise NewestRefused(
            f"the newest backup of {m.database!r}, {newest.manifest.id} of "
            f"{newest.manifest.started_at.strftime('%Y-%m-%dT%H:%M:%SZ')}, cannot restore: {newest.line()} "
            f"(the newest whole one is {m.id}: name its id to drill it)"
        )


def spelt_otherwise(stores: Sequence[Storage], database: str | None, source: str | None) -> str:
    """` (there are backups of 'shop')` when `database` matched nothing but differs from a backed-up
    database only in case: a name typed as `SHOP` is a different database to the server, and an
    operator told only "no backup" would think the backups gone. Empty otherwise."""
    if not database:
        return ""
    named = {e.manifest.database for e in scan_backups(stores, source=source).entries}
    alike = sorted(n for n in named if n != database and n.casefold() == database.casefold())
    return f" (there are backups of {', '.join(map(repr, alike))})" if alike else ""


def backups_of(database: str | None, source: str | None) -> str:
    """How a message names the backups a command was narrowed to: `of database 'shop' from source
    'db1'`, `of database 'shop'`, `of source 'db1'`; empty when it was not narrowed."""
    if database and source:
        return f"of database {database!r} from source {source!r}"
    if database:
        return f"of database {database!r}"
    return f"of source {source!r}" if source else ""


def describe_stores(stores: Sequence[Storage]) -> str:
    """The stores searched, for a message saying nothing was found in them."""
    return " or ".join(s.describe() + s.absence() for s in stores) or "no store"


def latest_per_database(entries: Iterable[CatalogEntry]) -> list[CatalogEntry]:
    """The newest complete, whole backup of each (source, database), newest first (what `latest` picks)."""
    latest: dict[tuple[str, str], CatalogEntry] = {}
    for entry in entries:
        if entry.manifest.partial:
            continue
        group = (entry.manifest.source, entry.manifest.database)
        if group not in latest or _newer(entry, latest[group]):
            latest[group] = entry
    return sorted(latest.values(), key=_order, reverse=True)


# -- retention ---------------------------------------------------------------------------------------


@runtime_checkable
class KeepsVersions(Protocol):
    """A store that may keep deleted objects as older versions (a versioned S3 bucket)."""

    def versioning_enabled(self) -> bool | None: ...


@runtime_checkable
class LocksObjects(Protocol):
    """A store whose objects may be under Object Lock retention (an S3 bucket with Object Lock)."""

    def object_lock(self) -> str | None: ...


@dataclass
class PruneResult:
    deleted: list[CatalogEntry] = field(default_factory=list)  # or, on a dry run, would be deleted
    kept: list[CatalogEntry] = field(default_factory=list)
    failed: list[tuple[CatalogEntry, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dry_run: bool = False
    # Files of writes a killed process never finished (or, on a dry run, that would be removed).
    abandoned: list[ObjectInfo] = field(default_factory=list)
    # Data objects whose manifest is gone, ORPHANED_AFTER old or more (or, on a dry run, that would be
    # deleted): what a prune whose data delete failed left behind.
    orphaned: list[ObjectInfo] = field(default_factory=list)


def plan_prune(
    entries: Iterable[CatalogEntry],
    *,
    keep_last: int | None,
    keep_days: int | None,
    now: datetime,
    needed: Collection[str] = frozenset(),
) -> tuple[list[CatalogEntry], list[CatalogEntry]]:
    """(delete, keep) per source + database: a backup goes when no rule keeps it.

    Rules: among the newest `keep_last`, or younger than `keep_days` days, or its id in `needed`. The
    newest backup of a database is always kept, so retention never leaves a database without a backup,
    and so is the newest that started before `now`, whatever a backup dated in the future claims.
    Full and partial backups (--schema-only, --exclude-table) are counted apart: partial ones never
    push the full backups, the ones a restore of `latest` needs, out of the newest `keep_last`.
    """
    if keep_last is None and keep_days is None:
        raise UsageError("prune needs --keep-last N and/or --keep-days D")
    if keep_last is not None and keep_last < 1:
        raise UsageError(f"--keep-last {keep_last}: keep at least 1 backup")
    if keep_days is not None and keep_days < 0:
        raise UsageError(f"--keep-days {keep_days}: must be 0 or more")
    cutoff = None
    if keep_days is not None:
        try:
            cutoff = now - timedelta(days=keep_days)
        except OverflowError:  # more days than back to year 1 ("keep forever" typed as 9s): every backup
            cutoff = datetime.min.replace(tzinfo=now.tzinfo)
    groups: dict[tuple[str, str, bool], list[CatalogEntry]] = {}
    for entry in sorted(entries, key=_order, reverse=True):
        key = (entry.manifest.source, entry.manifest.database, entry.manifest.partial)
        groups.setdefault(key, []).append(entry)
    delete: list[CatalogEntry] = []
    keep: list[CatalogEntry] = []
    for group in groups.values():
        # A backup stamped after `now` (a clock set wrong) ranks first; the newest one before `now` is
        # still the one an operator knows as the newest, and must never go for it.
        newest_so_far = next((e for e in group if e.manifest.started_at <= now), None)
        for rank, entry in enumerate(group):
            kept = (
                rank == 0
                or entry is newest_so_far
                or (keep_last is not None and rank < keep_last)
                or (cutoff is not None and entry.manifest.started_at >= cutoff)
                or entry.id in needed
            )
            (keep if kept else delete).append(entry)
    return delete, keep


def delete_backup(entry: CatalogEntry) -> None:
    """The manifest first, so a half-deleted backup is never listed as complete; then the data object
    (only ever the manifest's own: the key check runs again right before anything is deleted)."""
    if reason := key_mismatch(entry.manifest_key, entry.manifest):
        raise OperationError(f"not deleting {entry.store.location(entry.manifest_key)}: {reason}")
    entry.store.delete(entry.manifest_key)
    try:
        entry.store.delete(entry.manifest.data.key)
    except CloudBackupError as exc:
        # The backup is gone as a backup (no longer listed or restorable); say so, and where its data is.
        raise OperationError(
            f"its manifest is deleted (no longer listed) but its data object is left: {exc}"
        ) from None


def prune(
    store: Storage,
    *,
    keep_last: int | None,
    keep_days: int | None,
    now: datetime,
    database: str | None = None,
    source: str | None = None,
    dry_run: bool = False,
) -> PruneResult:
    """Retention in one store: the backups of the other store never count, so the newest backup of
    each source + database in `store` is always kept, whatever the other store holds."""
    entries = list_backups([store], database=database, source=source)
    by_rules, _ = plan_prune(entries, keep_last=keep_last, keep_days=keep_days, now=now)
    # The archive (an index per segment, many thousands of them for a busy server) is read only for the
    # databases whose rules would delete a backup a point-in-time restore could start from.
    at_risk = {_database_of(e) for e in by_rules if starts_a_replay(e.manifest)}
    anchors = point_in_time_anchors(store, [e for e in entries if _database_of(e) in at_risk])
    delete, keep = plan_prune(entries, keep_last=keep_last, keep_days=keep_days, now=now, needed=anchors)
    result = PruneResult(kept=keep, dry_run=dry_run)
    # Say why a backup the rules alone would delete is kept: an operator counting `kept` would wonder.
    notes = [_anchor_note(e) for e in by_rules if e.id in anchors]
    for entry in delete:
        if dry_run:
            result.deleted.append(entry)
            continue
        try:
            delete_backup(entry)
        except CloudBackupError as exc:
            result.failed.append((entry, str(exc)))
            continue
        result.deleted.append(entry)
    note = _deletion_note(store, dry_run) if result.deleted else ""
    result.notes = notes + ([note] if note else [])
    result.abandoned = _sweep_abandoned(store, now, database=database, source=source, dry_run=dry_run)
    # (a data object this run just failed to delete is reported there, not tried again)
    failed = {e.manifest.data.key for e, _ in result.failed}
    result.orphaned = _sweep_orphaned(
        store, now, database=database, source=source, dry_run=dry_run, skip=failed
    )
    return result


def point_in_time_anchors(store: Storage, entries: Iterable[CatalogEntry]) -> set[str]:
    """Ids of the newest whole backup of each source + database whose binlog position the store's archive
    holds after its last gap: a point-in-time restore to the newest archived event starts from it. Newer
    backups may record no position (no privilege to read it) or one the archive has not reached yet."""
    archives: dict[str, list[SegmentIndex]] = {}
    anchors: dict[tuple[str, str], str] = {}
    for entry in sorted(entries, key=_order, reverse=True):
        m = entry.manifest
        if not starts_a_replay(m) or _database_of(entry) in anchors:
            continue
        if m.source not in archives:
            archives[m.source] = after_last_gap(read_indexes(store, m.source))
        if holds_position(archives[m.source], m.snapshot):
            anchors[_database_of(entry)] = m.id
    return set(anchors.values())


def _database_of(entry: CatalogEntry) -> tuple[str, str]:
    return entry.manifest.source, entry.manifest.database


def _anchor_note(entry: CatalogEntry) -> str:
    m = entry.manifest
    return (
        f"kept {m.id} ({m.source}/{m.database}): the newest backup whose binlog position is archived; "
        "a point-in-time restore to the newest archived event starts from it"
    )


# A write not written to for this long is a dead process's: a live one appends as it reads.
ABANDONED_AFTER = timedelta(hours=24)


def _sweep_abandoned(
    store: Storage, now: datetime, *, database: str | None, source: str | None, dry_run: bool
) -> list[ObjectInfo]:
    """Remove what killed backups left half-written (never listed as backups, but never freed either),
    within the --database / --source a prune is narrowed to."""
    wanted = [safe_segment(source) if source else None, safe_segment(database) if database else None]
    swept = []
    for info in store.abandoned_writes(now - ABANDONED_AFTER):
        segments = info.key.split("/")
        if any(
            want is not None and (len(segments) <= i or segments[i] != want) for i, want in enumerate(wanted)
        ):
            continue
        if not dry_run:
            try:
                store.drop_abandoned(info.key)
            except CloudBackupError as exc:
                # Leftovers of a dead write, not a backup: the prune's deletions stand, and are reported.
                log.warning("could not remove the unfinished write of %s: %s", store.location(info.key), exc)
                continue
        swept.append(info)
    return swept


# A data object without a manifest this old is no backup being written. Longer than ABANDONED_AFTER: a big
# database's backup (the Fargate task) may upload for more than a day, and S3 dates a multipart object from
# the start of its upload, so a day-old data object may be a backup about to write its manifest.
ORPHANED_AFTER = timedelta(days=7)


def _orphan_stem(key: str, older_than: datetime) -> str | None:
    """The backup stem of `key` when it is a data object's key, of a backup started before `older_than`."""
    parsed = data_key_stem(key)
    return parsed[0] if parsed is not None and parsed[1] < older_than else None


def _sweep_orphaned(
    store: Storage,
    now: datetime,
    *,
    database: str | None,
    source: str | None,
    dry_run: bool,
    skip: Collection[str],
) -> list[ObjectInfo]:
    """Delete the data objects that have no manifest beside them (any manifest, even one this version
    cannot read), last written ORPHANED_AFTER ago or more: a backup being written has no manifest yet,
    but it is never that old. A prune whose data delete failed (delete_backup) leaves such an object:
    no longer a backup, never listed, and otherwise never freed. Within --database / --source."""
    prefix = safe_segment(source) + "/" if source else ""
    try:
        listed = list(store.list(prefix))
    except CloudBackupError as exc:
        # Leftovers, not backups: the deletions made stand and are reported; the next prune looks again.
        log.warning("could not look for data objects without a manifest: %s", exc)
        return []
    manifests = {info.key for info in listed if is_manifest_key(info.key)}
    cutoff = now - ORPHANED_AFTER
    swept = []
    for info in listed:
        stem = _orphan_stem(info.key, cutoff)
        if stem is None or info.key in skip or manifest_key(stem) in manifests:
            continue
        if database is not None and stem.split("/")[1] != safe_segment(database):
            continue
        if info.last_modified is None or info.last_modified >= cutoff:
            continue
        if not dry_run:
            try:
                # Looked at again right before the delete: a manifest written since the listing makes it
                # a backup.
                if any(o.key == manifest_key(stem) for o in store.list(manifest_key(stem))):
                    continue
                store.delete(info.key)
            except CloudBackupError as exc:
                log.warning(
                    "could not delete %s, a data object without a manifest: %s", store.location(info.key), exc
                )
                continue
        swept.append(info)
    return swept


def _deletion_note(store: Storage, dry_run: bool) -> str:
    if not isinstance(store, KeepsVersions):
        return ""
    deleted = "deleted backups" if not dry_run else "backups deleted by a real run"
    keep = (
        f"{deleted} stay recoverable as non-current versions until the bucket's lifecycle rule expires them"
    )
    versioned = store.versioning_enabled()
    lock = store.object_lock() if versioned and isinstance(store, LocksObjects) else None
    if versioned and lock is not None:
        # Deleting without a version id only adds a delete marker, which Object Lock allows; the locked
        # versions themselves cannot go before their retention ends (S3 refuses, and prune never tries).
        retention = f" (default retention {lock})" if lock else ""
        return (
            f"{store.describe()}: the bucket has Object Lock{retention}; {deleted} stay as locked "
            "non-current versions until their retention ends and the lifecycle rule expires them"
        )
    if versioned is None:
        return f"{store.describe()}: if the bucket is versioned, {keep}"
    if versioned:
        return f"{store.describe()}: the bucket is versioned; {keep}"
    return f"{store.describe()}: the bucket is not versioned; {deleted} are gone for good"


def _order(entry: CatalogEntry) -> tuple[datetime, str]:
    return (entry.manifest.started_at, entry.manifest.id)


def _newer(a: CatalogEntry, b: CatalogEntry) -> bool:
    return _order(a) > _order(b)


def _quoted(name: str) -> str:
    """A name as SQL quotes it (as mysql/identifiers.quote_identifier does)."""
    return "`" + name.replace("`", "``") + "`"
