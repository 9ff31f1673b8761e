"""Write the data object as a run of compression frames, compressing in a thread of its own.

The dump thread hands over SQL and frame boundaries through a small bounded queue; this writer's
thread compresses (zlib and zstandard release the GIL), writes to the store and records where each
frame starts and how long it is, for the manifest's index. The queue bounds memory: a slow store
slows the dump instead of buffering it.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from typing import Final

from cloudbackup import stopping
from cloudbackup.errors import CloudBackupError, OperationError
from cloudbackup.format.digest import SectionDigest
from cloudbackup.format.frames import FrameCompressor, new_frame_compressor
from cloudbackup.format.manifest import Compression, Frame, FrameKind
from cloudbackup.storage.base import ObjectWriter, WrittenObject

QUEUE_DEPTH = 8
_CLOSE: Final = object()


@dataclass
class _Begin:
    kind: FrameKind
    name: str
    digest: bool = False


@dataclass
class _End:
    rows: int


@dataclass
class _OpenFrame:
    begin: _Begin
    compressor: FrameCompressor
    start: int
    raw: int = 0
    digest: SectionDigest | None = None

    def entry(self, end: int, rows: int) -> Frame:
        return Frame(
            kind=self.begin.kind,
            name=self.begin.name,
            offset=self.start,
            length=end - self.start,
            rows=rows,
            raw_length=self.raw,
            sha256=None if self.digest is None else self.digest.hexdigest(),
        )


class FrameWriter:
    """begin_frame / write… / end_frame, repeated; then commit() or abort().

    Errors of the writing thread (a full disk, a failed upload) are raised in the dump thread at its
    next call, as OperationError.
    """

    def __init__(self, sink: ObjectWriter, compression: Compression) -> None:
        self._sink = sink
        self._compression: Compression = compression
        self._queue: queue.Queue[object] = queue.Queue(maxsize=QUEUE_DEPTH)
        self._error: BaseException | None = None
        self._frames: list[Frame] = []
        self._done = False
        self._thread = threading.Thread(target=self._run, name="frame-writer", daemon=True)
        self._thread.start()

    def begin_frame(self, kind: FrameKind, name: str = "", *, digest: bool = False) -> None:
        """`digest`: record the frame's content digest (format/digest.py); each write() is one piece."""
        self._put(_Begin(kind, name, digest))

    def write(self, data: bytes) -> None:
        if data:
            self._put(data)

    def end_frame(self, rows: int = 0) -> None:
        self._put(_End(rows))

    def frame(self, kind: FrameKind, data: bytes, name: str = "") -> None:
        """A whole small frame at once (header, footer, routines…)."""
        self.begin_frame(kind, name)
        self.write(data)
        self.end_frame()

    def commit(self) -> tuple[list[Frame], WrittenObject]:
        """Flush, make the object visible, and return the frame index and what was written."""
        self._finish()
        try:
            written = self._sink.commit()
        except BaseException:
            self._sink.abort()
            raise
        return self._frames, written

    def abort(self) -> None:
        """Delete whatever was written and stop the thread. Safe to call at any time, twice."""
        if not self._done:
            self._error = self._error or OperationError("backup aborted")
        # The store first: that fails a write the thread may be blocked in (a part hanging at S3),
        # so the thread is free to stop.
        self._sink.abort()
        if not self._done:
            self._stop_thread()

    def _put(self, item: object) -> None:
        if self._done:
            raise OperationError("frame writer already closed")
        stopping.put(self._queue, item, check=self._raise_error)

    def _finish(self) -> None:
        self._put(_CLOSE)
        stopping.join_thread(self._thread)  # the last frames' compression and upload: a stop may come
        self._done = True
        self._raise_error()

    def _stop_thread(self) -> None:
        self._done = True
        # The thread drains without writing once _error is set; one sentinel ends it.
        while self._thread.is_alive():
            try:
                self._queue.put(_CLOSE, timeout=0.1)
                break
            except queue.Full:
                continue
        self._thread.join()

    def _raise_error(self) -> None:
        error = self._error
        if error is None:
            return
        if isinstance(error, CloudBackupError):
            raise error
        raise OperationError(f"writing the backup failed: {error}") from error

    def _run(self) -> None:
        offset = 0
        frame: _OpenFrame | None = None
        while True:
            item = self._queue.get()
            if item is _CLOSE:
                return
            if self._error is not None:
                continue  # drain: the dump thread will see the error at its next call
            try:
                if isinstance(item, _Begin):
                    frame = _OpenFrame(item, new_frame_compressor(self._compression), offset)
                    frame.digest = SectionDigest() if item.digest else None
                elif frame is None:
                    raise RuntimeError("data or end_frame() outside a frame")
                elif isinstance(item, bytes):
                    frame.raw += len(item)
                    if frame.digest is not None:
                        frame.digest.update(item)
                    offset += self._emit(frame.compressor.compress(item))
                elif isinstance(item, _End):
                    offset += self._emit(frame.compressor.flush())
                    self._frames.append(frame.entry(offset, item.rows))
                    frame = None
            except BaseException as exc:
                self._error = exc

    def _emit(self, data: bytes) -> int:
        if data:
            self._sink.write(data)
        return len(data)
