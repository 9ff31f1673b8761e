"""The proof that a restored copy is the backup: its tables, row counts, objects and content.

Each check raises DrillFailed naming the table (or object kind) that does not match.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict

from cloudbackup.catalog import CatalogEntry
from cloudbackup.drill.redump import OBJECT_FRAMES, Redump
from cloudbackup.drill.sections import section_fingerprint
from cloudbackup.errors import OperationError
from cloudbackup.format.manifest import Frame
from cloudbackup.mysql.feed import events_disabled
from cloudbackup.verify import decode


class DrillFailed(OperationError):
    """The backup did not restore, or the restored copy is not what the backup holds."""


def prove_tables(entry: CatalogEntry, copy: Redump) -> None:
    """The same tables, each with the manifest's row count."""
    backed = {f.name: f for f in entry.manifest.frames if f.kind == "table"}
    restored = copy.tables()
    missing = sorted(backed.keys() - restored.keys())
    if missing:
        raise DrillFailed(f"table {missing[0]!r}: in the backup but not in the restored copy")
    extra = sorted(restored.keys() - backed.keys())
    if extra:
        raise DrillFailed(f"table {extra[0]!r}: in the restored copy but not in the backup")
    for name, frame in backed.items():
        if restored[name].rows != frame.rows:
            raise DrillFailed(
                f"table {name!r}: {restored[name].rows} rows restored, the manifest says {frame.rows}"
            )


def prove_objects(entry: CatalogEntry, copy: Redump) -> None:
    """As many views, routines, triggers, events and sequences as the manifest counted."""
    expected, found = asdict(entry.manifest.counts), asdict(copy.counts)
    for kind, count in expected.items():
        if found[kind] != count:
            raise DrillFailed(f"{kind}: {found[kind]} restored, the manifest says {count}")


def prove_definitions(entry: CatalogEntry, copy: Redump) -> None:
    """Each sequence, and the routines, views and events, written again as the backup wrote them: the
    dumper writes the same definitions the same way. Only the events' status may differ (the drill
    created them disabled), so it is taken out of both."""
    for frame in entry.manifest.frames:
        if frame.kind not in OBJECT_FRAMES:
            continue
        backed = b"".join(_backup_section(entry, frame))
        mine = copy.objects.get((frame.kind, frame.name))
        if frame.kind == "events" and mine is not None:
            backed, mine = events_disabled(backed), events_disabled(mine)
        if mine != backed:
            what = f"{frame.kind} {frame.name!r}" if frame.name else frame.kind
            raise DrillFailed(f"{what}: the restored definitions differ from the backup")


def prove_content(entry: CatalogEntry, copy: Redump) -> int:
    """Every table's content as the backup's; returns how many were proven by a recorded digest (the
    others were compared with their section in the backup object)."""
    restored = copy.tables()
    by_digest = 0
    for frame in entry.manifest.frames:
        if frame.kind != "table":
            continue
        mine = restored[frame.name]
        if frame.sha256 is not None and mine.sha256 is not None:
            if mine.sha256 != frame.sha256:
                raise DrillFailed(
                    f"table {frame.name!r}: the restored content differs from the backup "
                    f"(digest {mine.sha256[:12]}, the manifest records {frame.sha256[:12]})"
                )
            by_digest += 1
        elif section_fingerprint(_backup_section(entry, frame)) != section_fingerprint(copy.section(mine)):
            raise DrillFailed(
                f"table {frame.name!r}: the restored content differs from its section in the backup object"
            )
    return by_digest


def _backup_section(entry: CatalogEntry, frame: Frame) -> Iterator[bytes]:
    manifest = entry.manifest
    return decode(manifest.compression, entry.store.iter_range(manifest.data.key, frame.offset, frame.length))
