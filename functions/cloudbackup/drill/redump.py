"""Dump the drill's scratch copy again with the backup's own dumper, to compare it with the backup.

The re-dump goes through the same FrameWriter as a backup (uncompressed), so every table frame gets
the same content digest (format/digest.py) a backup records. Sections are only kept (in a temporary
file) when the backup has tables without a recorded digest, which are compared section by section.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO

import pymysql

from cloudbackup import __version__
from cloudbackup.dburl import DbSettings
from cloudbackup.errors import OperationError
from cloudbackup.format.manifest import Frame, FrameKind, ObjectCounts
from cloudbackup.format.writer import FrameWriter
from cloudbackup.mysql.connection import connect
from cloudbackup.mysql.dump import dump_database
from cloudbackup.mysql.snapshot import open_snapshot
from cloudbackup.storage.base import Sha256Counter, WrittenObject

READ_CHUNK = 1 << 20
OBJECT_FRAMES: tuple[FrameKind, ...] = ("sequence", "routines", "views", "events")


class _Sink:
    """An ObjectWriter that keeps the bytes in a temporary file, or drops them."""

    def __init__(self, keep: bool) -> None:
        self.file: IO[bytes] | None = tempfile.TemporaryFile() if keep else None  # noqa: SIM115
        self._counter = Sha256Counter()

    def write(self, data: bytes) -> None:
        if self.file is not None:
            self.file.write(data)
        self._counter.size += len(data)

    def commit(self) -> WrittenObject:
        return WrittenObject(key="", size=self._counter.size, sha256="")

    def abort(self) -> None:
        self.close()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


class _ObjectsKept(FrameWriter):
    """A FrameWriter that also keeps the SQL of its small frames (sequences, routines, views, events),
    which the drill compares with the backup's as they are: a count alone would pass a copy whose view,
    routine, event or sequence is not the one backed up."""

    def __init__(self, sink: _Sink) -> None:
        super().__init__(sink, "none")
        self.objects: dict[tuple[str, str], bytes] = {}

    def frame(self, kind: FrameKind, data: bytes, name: str = "") -> None:
        if kind in OBJECT_FRAMES:
            self.objects[(kind, name)] = data
        super().frame(kind, data, name)


@dataclass
class Redump:
    frames: list[Frame]
    counts: ObjectCounts
    _sink: _Sink
    objects: dict[tuple[str, str], bytes] = field(default_factory=dict)  # by (frame kind, name)

    def tables(self) -> dict[str, Frame]:
        return {f.name: f for f in self.frames if f.kind == "table"}

    def section(self, frame: Frame) -> Iterator[bytes]:
        """The SQL of one frame (only when the re-dump kept its sections)."""
        file = self._sink.file
        if file is None:
            raise RuntimeError("the re-dump kept no sections")
        file.seek(frame.offset)
        left = frame.length
        while left > 0:
            chunk = file.read(min(READ_CHUNK, left))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk

    def close(self) -> None:
        self._sink.close()


def redump(
    db: DbSettings, database: str, *, keep_sections: bool, check: Callable[[], None] | None = None
) -> Redump:
    sink = _Sink(keep_sections)
    try:
        conn = connect(db, database=database)
        try:
            snapshot = open_snapshot(conn)
            writer = _ObjectsKept(sink)
            try:
                result = dump_database(
                    conn, database, writer, snapshot, tool_version=__version__, check=check
                )
                frames, _ = writer.commit()
            except BaseException:
                writer.abort()
                raise
        finally:
            conn.close()
    except pymysql.err.MySQLError as exc:
        sink.close()
        raise OperationError(f"re-dumping the restored copy failed: {exc}") from None
    except BaseException:
        sink.close()
        raise
    return Redump(frames=frames, counts=result.counts, _sink=sink, objects=writer.objects)
