"""The frame writer: an exact frame index, and failures of the store surfaced in the dump thread."""

import errno
import itertools
import os
import threading
import time

import pytest

from cloudbackup.errors import OperationError
from cloudbackup.format.frames import decompress_stream
from cloudbackup.format.writer import QUEUE_DEPTH, FrameWriter
from cloudbackup.storage.base import Sha256Counter, WrittenObject
from cloudbackup.storage.local import LocalStorage


class MemorySink:
    def __init__(self, fail_after: int | None = None) -> None:
        self.data = bytearray()
        self.fail_after = fail_after
        self.committed = self.aborted = False

    def write(self, data: bytes) -> None:
        if self.aborted:  # as every store: a write after abort() fails
            raise OperationError("cannot write x.partial: it was aborted")
        if self.fail_after is not None and len(self.data) + len(data) > self.fail_after:
            raise OperationError(f"cannot write x.partial: {os.strerror(errno.ENOSPC)}")
        self.data += data

    def commit(self) -> WrittenObject:
        self.committed = True
        counter = Sha256Counter()
        counter.update(bytes(self.data))
        return WrittenObject(key="k", size=counter.size, sha256=counter.hexdigest())

    def abort(self) -> None:
        self.aborted = True
        self.data.clear()


def write_all(writer: FrameWriter, parts: list[bytes]) -> None:
    for part in parts:
        writer.write(part)
    writer.end_frame()
    writer.commit()


SECTIONS = [
    ("database", "", [b"CREATE DATABASE d;\n"], 0),
    ("header", "", [b"SET NAMES utf8mb4;\n"], 0),
    ("table", "a", [b"CREATE TABLE a (x int);\n", b"INSERT INTO a VALUES (1),(2);\n" * 5000], 10000),
    ("table", "b", [b"CREATE TABLE b (y blob);\n", bytes(range(256)) * 300], 0),
    ("footer", "", [b"-- Dump completed\n"], 0),
]


@pytest.mark.parametrize("compression", ["zstd", "gzip", "none"])
def test_each_frame_is_indexed_and_decodes_alone_to_its_section(compression):
    # Given a writer over an in-memory store
    sink = MemorySink()
    writer = FrameWriter(sink, compression)
    # When sections are written as frames and committed
    for kind, name, parts, rows in SECTIONS:
        writer.begin_frame(kind, name)
        for part in parts:
            writer.write(part)
        writer.end_frame(rows)
    frames, written = writer.commit()
    # Then the index covers the object end to end, in order
    blob = bytes(sink.data)
    assert written.size == len(blob)
    assert [(f.kind, f.name, f.rows) for f in frames] == [(k, n, r) for k, n, _, r in SECTIONS]
    assert frames[0].offset == 0
    assert all(a.offset + a.length == b.offset for a, b in itertools.pairwise(frames))
    assert frames[-1].offset + frames[-1].length == len(blob)
    # and each frame, read alone by its offsets, is exactly its section
    for frame, (_, _, parts, _) in zip(frames, SECTIONS, strict=True):
        piece = blob[frame.offset : frame.offset + frame.length]
        section = b"".join(decompress_stream(compression, [piece]))
        assert section == b"".join(parts)
        assert frame.raw_length == len(section)


def test_a_full_disk_fails_the_dump_thread_with_one_line_and_nothing_is_committed():
    # Given a store that runs out of space after 64 KiB
    sink = MemorySink(fail_after=64 << 10)
    writer = FrameWriter(sink, "none")
    writer.begin_frame("table", "big")
    # When the dump keeps writing
    with pytest.raises(OperationError, match="No space left on device"):
        write_all(writer, [b"x" * 4096] * 10_000)
    writer.abort()
    # Then the object was aborted, never committed
    assert sink.aborted
    assert not sink.committed


def test_a_full_local_disk_leaves_no_partial_file(tmp_path, monkeypatch):
    # Given the local store, whose file writes fail with ENOSPC
    store = LocalStorage(tmp_path)
    sink = store.open_writer("src/db/x.sql.zst")

    def no_space(*_args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(sink._file, "write", no_space)
    writer = FrameWriter(sink, "zstd")
    writer.begin_frame("header")
    # When a frame is written
    with pytest.raises(OperationError, match="No space left on device"):
        write_all(writer, [os.urandom(1 << 20)])
    writer.abort()
    # Then nothing is left in the store
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_abort_midway_deletes_what_was_written():
    sink = MemorySink()
    writer = FrameWriter(sink, "zstd")
    writer.begin_frame("table", "t")
    writer.write(b"INSERT INTO t VALUES (1);\n" * 1000)
    writer.abort()
    writer.abort()  # twice is harmless
    assert sink.aborted
    assert not sink.committed
    assert sink.data == b""


class HangingSink(MemorySink):
    """A store whose write hangs until abort() (a part stuck at S3), then fails, as S3's upload does."""

    def __init__(self) -> None:
        super().__init__()
        self.stopping = threading.Event()

    def write(self, data: bytes) -> None:
        self.stopping.wait(timeout=60)
        super().write(data)

    def abort(self) -> None:
        self.stopping.set()
        super().abort()


def test_abort_while_the_store_hangs_returns_at_once_leaving_nothing():
    # Given a writer whose store hangs on its first write, and a dump thread that filled the queue
    sink = HangingSink()
    writer = FrameWriter(sink, "none")
    writer.begin_frame("table", "t")
    for _ in range(QUEUE_DEPTH):
        writer.write(b"INSERT INTO t VALUES (1);\n")
    # When the backup is stopped
    aborting = threading.Thread(target=writer.abort, daemon=True)
    started = time.monotonic()
    aborting.start()
    aborting.join(timeout=30)
    # Then the abort is done within seconds, not when the store gives up, and nothing is kept
    assert not aborting.is_alive()
    assert time.monotonic() - started < 5
    assert sink.aborted
    assert sink.data == b""
