"""Check a backup against its manifest: size, SHA-256, frame index, and every frame decodes.

`FrameStream` reads the data object once, hashing every byte as it passes and cutting it into the
manifest's frames; the restore loads from the same stream, so a full restore reads the object once and
still refuses to publish anything that does not match (see restore.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager

import zstandard
from pydantic import BaseModel

from cloudbackup.catalog import CatalogEntry
from cloudbackup.errors import CloudBackupError, IntegrityError, Stopped
from cloudbackup.format.frames import decompress_stream
from cloudbackup.format.manifest import Compression, Frame, Manifest
from cloudbackup.handover import read_ahead
from cloudbackup.storage.base import Sha256Counter


class VerifyResult(BaseModel):
    id: str
    database: str
    location: str
    size: int
    sha256: str
    frames: int
    tables: int
    raw_bytes: int
    ok: bool = True
    unrestorable: list[str] = []  # objects the backup found every restore will refuse (manifest)
    # What the backup left out (manifest): intact as it is, but not the whole database.
    excluded_tables: list[str] = []
    excluded_views: list[str] = []
    excluded_triggers: list[str] = []
    programs_naming_excluded: list[str] = []


def decode(compression: Compression, chunks: Iterable[bytes]) -> Iterator[bytes]:
    """SQL bytes of concatenated frames; damaged compressed data is an IntegrityError."""
    try:
        yield from decompress_stream(compression, chunks)
    except zstandard.ZstdError as exc:
        raise IntegrityError(f"corrupt zstd data: {exc}") from None


@contextmanager
def decoded_ahead(compression: Compression, chunks: Iterable[bytes]) -> Iterator[Iterator[bytes]]:
    """decode() in a thread of its own, a few chunks ahead: reading, hashing and decompressing
    release the GIL, so they run while the statements of the previous chunks are split and checked.
    On leaving, the thread is stopped and joined, so `chunks`' source may be read again (to drain it)."""
    with closing(read_ahead(decode(compression, chunks))) as sql:
        yield sql


def check_frame_index(manifest: Manifest) -> list[Frame]:
    """The frames in object order, contiguous from 0 to the object's size."""
    frames = sorted(manifest.frames, key=lambda f: f.offset)
    at = 0
    for frame in frames:
        if frame.offset != at:
            raise IntegrityError(
                f"backup {manifest.id}: frame index inconsistent at {frame.kind} {frame.name!r}: "
                f"offset {frame.offset}, expected {at}"
            )
        at += frame.length
    if at != manifest.data.size:
        raise IntegrityError(
            f"backup {manifest.id}: frames cover {at} bytes but the data object has {manifest.data.size}"
        )
    return frames


class FrameStream:
    """One pass over the data object: (frame, its compressed bytes) in order, hashed on the way."""

    def __init__(self, manifest: Manifest, chunks: Iterable[bytes]) -> None:
        self.manifest = manifest
        self.frames = check_frame_index(manifest)
        self.counter = Sha256Counter()
        self.read_failed = False  # the store failed to give the bytes: the rest is unread, not missing
        self._chunks = self._read(chunks)
        self._pending = b""

    def _read(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        try:
            yield from chunks
        except CloudBackupError:
            self.read_failed = True
            raise

    def __iter__(self) -> Iterator[tuple[Frame, Iterator[bytes]]]:
        for frame in self.frames:
            body = self._take(frame.length, frame)
            yield frame, body
            for _ in body:  # whatever the consumer left unread still counts for the hash
                pass

    def _take(self, length: int, frame: Frame) -> Iterator[bytes]:
        remaining = length
        while remaining > 0:
            if not self._pending:
                chunk = next(self._chunks, b"")
                if not chunk:
                    raise IntegrityError(
                        f"backup {self.manifest.id}: data object is truncated "
                        f"(ends inside {frame.kind} {frame.name!r})"
                    )
                self.counter.update(chunk)
                self._pending = chunk
            piece, self._pending = self._pending[:remaining], self._pending[remaining:]
            remaining -= len(piece)
            yield piece

    def finish(self) -> None:
        """After the last frame: nothing more, and size and SHA-256 as the manifest says."""
        for chunk in self._chunks:
            self.counter.update(chunk)
        data = self.manifest.data
        if self.counter.size != data.size:
            raise IntegrityError(
                f"backup {self.manifest.id}: data object has {self.counter.size} bytes, "
                f"the manifest says {data.size}"
            )
        if self.counter.hexdigest() != data.sha256:
            raise IntegrityError(
                f"backup {self.manifest.id}: data object SHA-256 {self.counter.hexdigest()} "
                f"does not match the manifest's {data.sha256}"
            )


class _Counted:
    """Chunks passed on as they come, counted."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks
        self.length = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            self.length += len(chunk)
            yield chunk


def verify_backup(
    entry: CatalogEntry, statements: Callable[[Frame, Iterable[bytes]], None] | None = None
) -> VerifyResult:
    """Read the whole object once: hash, size, frame index, and every frame decodes (raising
    IntegrityError on the first problem). `statements`, when given, reads each frame's SQL as it
    passes (a restore checks every statement in the same pass)."""
    manifest = entry.manifest
    stream = FrameStream(manifest, entry.store.iter_range(manifest.data.key))
    raw = 0
    try:
        for frame, body in stream:
            with decoded_ahead(manifest.compression, body) as pieces:
                sql = _Counted(pieces)
                if statements is not None:
                    statements(frame, sql)
                for _ in sql:  # what the reader left unread
                    pass
            length = sql.length
            if frame.raw_length and length != frame.raw_length:
                raise IntegrityError(
                    f"backup {manifest.id}: {frame.kind} {frame.name!r} decodes to {length} bytes, "
                    f"the manifest says {frame.raw_length}"
                )
            raw += length
    except Stopped:
        raise  # asked to stop: reading the rest of the object for a clearer report would only delay it
    except CloudBackupError:
        # A damaged object often shows as a bad statement first: a checksum mismatch is the clearer
        # report, when there is one. Not after a failed read (S3 refused, the network gave out): the
        # bytes not read would count as missing, and an intact backup be reported as cut short.
        if not stream.read_failed:
            stream.finish()
        raise
    stream.finish()
    return VerifyResult(
        id=manifest.id,
        database=manifest.database,
        location=entry.store.location(manifest.data.key),
        size=manifest.data.size,
        sha256=manifest.data.sha256,
        frames=len(stream.frames),
        tables=len(manifest.tables),
        raw_bytes=raw,
        unrestorable=manifest.unrestorable,
        excluded_tables=manifest.excluded_tables,
        excluded_views=manifest.excluded_views,
        excluded_triggers=manifest.excluded_triggers,
        programs_naming_excluded=manifest.programs_naming_excluded,
    )
