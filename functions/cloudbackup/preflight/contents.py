"""What a backup holds that decides whether a server can take it: table DDL, routines, counts.

Read from the data object by frame (ranged reads): a table frame only up to its first row, so the scan
costs a few KiB per table whatever the table's size.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from cloudbackup.catalog import CatalogEntry
from cloudbackup.format.manifest import Frame
from cloudbackup.verify import decode

# A table frame is its DDL, then its INSERTs, then its triggers; the DDL is all the scan needs.
FIRST_ROWS = b"\nINSERT INTO "
DDL_READ_LIMIT = 1 << 20


@dataclass
class BackupContents:
    tables: dict[str, bytes] = field(default_factory=dict)  # table name -> its frame up to the rows
    sequences: list[str] = field(default_factory=list)
    routines: bytes = b""  # the routines frame, whole (empty for a table subset)
    programs: bytes = b""  # the routines, views and events frames, whole (each sets its session)
    triggers: int = 0  # triggers the restore creates (a subset: of the whole backup, to be safe)


def read_contents(entry: CatalogEntry, frames: Iterable[Frame], *, with_tables: bool) -> BackupContents:
    """The parts of `frames` the checks read; table DDL only if `with_tables`."""
    manifest = entry.manifest
    found = BackupContents(triggers=manifest.counts.triggers)
    for frame in frames:
        if frame.kind == "sequence":
            found.sequences.append(frame.name)
        elif frame.kind in ("routines", "views", "events"):
            text = _read(entry, frame, limit=None)
            found.programs += text
            if frame.kind == "routines":
                found.routines = text
        elif frame.kind == "table" and with_tables:
            head = _read(entry, frame, limit=DDL_READ_LIMIT)
            found.tables[frame.name] = head.split(FIRST_ROWS, 1)[0]
    return found


def _read(entry: CatalogEntry, frame: Frame, *, limit: int | None) -> bytes:
    """The frame's SQL, or its first `limit` bytes (or up to its first row), decompressed."""
    manifest = entry.manifest
    body = entry.store.iter_range(manifest.data.key, frame.offset, frame.length)
    parts: list[bytes] = []
    size = 0
    chunks = decode(manifest.compression, body)
    for chunk in chunks:
        parts.append(chunk)
        size += len(chunk)
        if limit is not None and (size >= limit or FIRST_ROWS in chunk):
            getattr(chunks, "close", lambda: None)()  # stop reading the rest of the frame now
            break
    return b"".join(parts)
