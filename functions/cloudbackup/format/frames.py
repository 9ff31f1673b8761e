"""Compression frames: each section of the dump is its own zstd frame or gzip member.

Concatenated frames are still one valid `.zst`/`.gz` file, so `zstd -dc F | mysql` restores without
this tool, while the manifest's offsets let one table be read with a ranged GET.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from typing import Protocol

import zstandard

from cloudbackup.errors import IntegrityError
from cloudbackup.format.manifest import Compression

ZSTD_LEVEL = 1  # on SQL dumps: ~40% less CPU than level 3 for about the same size (bench/)
# Level 1 with a 128 KiB window and a 4,096-entry hash table: both fit the core's caches, and on SQL
# dumps the matches worth taking are near (the same INSERT prefix, neighbouring rows' values). Measured
# against level 1's defaults: on the benchmark's rows 16% less CPU and a 1.5% smaller object; on JSON
# documents 8% less CPU, 0.5% larger; on sakila 3% larger (its CPU is negligible); decompression
# costs the same and needs a smaller window.
ZSTD_PARAMETERS = zstandard.ZstdCompressionParameters.from_level(ZSTD_LEVEL, window_log=17, hash_log=12)
GZIP_LEVEL = 6
# Decoded SQL comes in pieces of at most this size, however well its input compresses: a few KB of zstd
# or gzip can stand for GBs (a run of one byte), and one decompress call would return them all at once.
DECODED_PIECE_BYTES = 1 << 20
_ZSTD_BLOCK_MAX = 128 << 10  # a zstd block decodes to at most this (the format's Block_Maximum_Size)
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class FrameCompressor(Protocol):
    def compress(self, data: bytes) -> bytes: ...
    def flush(self) -> bytes: ...


class _Identity:
    def compress(self, data: bytes) -> bytes:
        return data

    def flush(self) -> bytes:
        return b""


def new_frame_compressor(compression: Compression) -> FrameCompressor:
    """A compressor producing exactly one self-contained frame (zstd frame / gzip member)."""
    if compression == "zstd":
        cobj: FrameCompressor = zstandard.ZstdCompressor(compression_params=ZSTD_PARAMETERS).compressobj()
        return cobj
    if compression == "gzip":
        return zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)  # 31: gzip header + trailer
    return _Identity()


def compress_frame(compression: Compression, data: bytes) -> bytes:
    c = new_frame_compressor(compression)
    return c.compress(data) + c.flush()


def decompress_stream(compression: Compression, chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Decompress a run of concatenated frames, yielding SQL bytes. A truncated stream raises."""
    if compression == "none":
        yield from chunks
        return
    if compression == "zstd":
        yield from _zstd_frames(chunks)
        return
    yield from _gzip_members(chunks)


def _zstd_frames(chunks: Iterable[bytes]) -> Iterator[bytes]:
    dctx = zstandard.ZstdDecompressor()
    dobj = dctx.decompressobj()
    in_frame = False
    cutter = _ZstdBlocks(DECODED_PIECE_BYTES // _ZSTD_BLOCK_MAX)
    for chunk in chunks:
        for piece in cutter.pieces(chunk):
            data = piece
            while data:
                out = dobj.decompress(data)
                in_frame = True
                if out:
                    yield out
                if dobj.eof:
                    data = dobj.unused_data
                    dobj = dctx.decompressobj()
                    in_frame = False
                else:
                    data = b""
    if in_frame:
        raise IntegrityError("compressed data is truncated (incomplete zstd frame)")


class _ZstdBlocks:
    """Cuts zstd input so that no piece holds more than `blocks` whole blocks: each decodes to at most
    _ZSTD_BLOCK_MAX, so one decompress call returns at most about DECODED_PIECE_BYTES (zstandard's
    decompressobj has no output limit of its own). Only the frame and block headers are read (RFC 8878:
    a 4-byte magic, the frame header, 3-byte block headers, an optional checksum; skippable frames); the
    decompressor judges everything. Input it cannot follow (not zstd) goes on uncut: the decompressor
    refuses it before any output."""

    def __init__(self, blocks: int) -> None:
        self.blocks = max(1, blocks)
        self.head = bytearray()  # the header being read, across chunks
        self.state = "magic"  # magic | skippable | frame | block | lost
        self.want = 4  # header bytes wanted in this state
        self.skip = 0  # content bytes to pass over before the next header
        self.checksum = False
        self.counted = 0  # blocks begun in the current piece

    def pieces(self, chunk: bytes) -> Iterator[bytes]:
        start = at = 0
        while at < len(chunk) and self.state != "lost":
            if self.skip:
                step = min(self.skip, len(chunk) - at)
                self.skip -= step
                at += step
                continue
            if self.state == "block" and not self.head and self.counted == self.blocks:
                yield chunk[start:at]  # the next block starts the next piece
                start, self.counted = at, 0
            step = min(self.want - len(self.head), len(chunk) - at)
            self.head += chunk[at : at + step]
            at += step
            if len(self.head) == self.want:
                self._header(bytes(self.head))
        yield chunk[start:]

    def _header(self, head: bytes) -> None:
        self.head.clear()
        if self.state == "magic":
            if head == _ZSTD_MAGIC:
                self.state, self.want = "frame", 5  # (the descriptor byte read with the magic again)
                self.head += head
            elif head[0] & 0xF0 == 0x50 and head[1:] == b"\x2a\x4d\x18":
                self.state, self.want = "skippable", 8
                self.head += head
            else:
                self.state = "lost"
        elif self.state == "skippable":
            self.skip, self.state, self.want = int.from_bytes(head[4:8], "little"), "magic", 4
        elif self.state == "frame":
            descriptor = head[4]
            single_segment = descriptor >> 5 & 1
            content_size = (single_segment, 2, 4, 8)[descriptor >> 6]
            self.skip = (0 if single_segment else 1) + (0, 1, 2, 4)[descriptor & 3] + content_size
            self.checksum = bool(descriptor >> 2 & 1)
            self.state, self.want = "block", 3
        elif self.state == "block":
            header = int.from_bytes(head, "little")
            kind, size = header >> 1 & 3, header >> 3
            self.counted += 1
            self.skip = 1 if kind == 1 else size  # an RLE block holds one byte
            if kind == 3:  # reserved: corrupt, the decompressor refuses it
                self.state = "lost"
            elif header & 1:  # the frame's last block: its checksum, then the next frame
                self.skip += 4 if self.checksum else 0
                self.state, self.want = "magic", 4


def _gzip_members(chunks: Iterable[bytes]) -> Iterator[bytes]:
    dobj = zlib.decompressobj(31)
    in_member = False
    for chunk in chunks:
        data, full = chunk, False
        while data or full:
            try:
                out = dobj.decompress(data, DECODED_PIECE_BYTES)
            except zlib.error as exc:
                raise IntegrityError(f"corrupt gzip data: {exc}") from None
            in_member = True
            if out:
                yield out
            if dobj.eof:
                data, full = dobj.unused_data, False
                dobj = zlib.decompressobj(31)
                in_member = False
            else:
                # What the output limit left: input not read yet, or output still held (a full piece).
                data, full = dobj.unconsumed_tail, len(out) == DECODED_PIECE_BYTES
    if in_member:
        raise IntegrityError("compressed data is truncated (incomplete gzip member)")


def detect_compression(head: bytes, name: str = "") -> Compression:
    """Compression of a plain dump file, by magic bytes first and file name second."""
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return "zstd"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if name.endswith((".zst", ".gz")):
        raise IntegrityError(f"{name}: the name says compressed but the content is not")
    return "none"
