"""Compression frames: concatenated frames decode as one stream; truncation is detected."""

import gzip
import subprocess

import pytest
import zstandard

from cloudbackup.errors import IntegrityError
from cloudbackup.format.frames import (
    DECODED_PIECE_BYTES,
    compress_frame,
    decompress_stream,
    detect_compression,
    new_frame_compressor,
)


@pytest.mark.parametrize("compression", ["zstd", "gzip", "none"])
def test_concatenated_frames_decode_to_the_joined_sections(compression):
    # Given three sections compressed as separate frames
    sections = [b"CREATE TABLE a (x int);\n", b"INSERT INTO a VALUES (1);\n" * 1000, b"-- end\n"]
    blob = b"".join(compress_frame(compression, s) for s in sections)
    # When the whole object is decoded in odd-sized chunks
    chunks = [blob[i : i + 7] for i in range(0, len(blob), 7)]
    out = b"".join(decompress_stream(compression, chunks))
    # Then it is the sections joined, as the stock tools would see it
    assert out == b"".join(sections)


def test_zstd_frames_are_one_valid_file_for_the_zstd_tool():
    blob = compress_frame("zstd", b"one\n") + compress_frame("zstd", b"two\n")
    assert (
        subprocess.run(["zstd", "-dc"], input=blob, capture_output=True, check=True).stdout == b"one\ntwo\n"
    )


def test_gzip_members_are_one_valid_file_for_gunzip():
    blob = compress_frame("gzip", b"one\n") + compress_frame("gzip", b"two\n")
    assert gzip.decompress(blob) == b"one\ntwo\n"


@pytest.mark.parametrize("compression", ["zstd", "gzip"])
def test_a_truncated_object_is_an_integrity_error(compression):
    blob = compress_frame(compression, b"x" * 100_000 + bytes(range(256)) * 100)
    with pytest.raises(IntegrityError):
        b"".join(decompress_stream(compression, [blob[:-10]]))


def test_detect_compression_by_magic():
    assert detect_compression(compress_frame("zstd", b"a")) == "zstd"
    assert detect_compression(compress_frame("gzip", b"a")) == "gzip"
    assert detect_compression(b"-- MySQL dump") == "none"
    with pytest.raises(IntegrityError):
        detect_compression(b"-- plain", "dump.sql.gz")


def _bomb(compression, size):
    """`size` bytes of one letter, compressed as one frame (a few KB), written without holding them whole."""
    c = new_frame_compressor(compression)
    piece = b"a" * (1 << 20)
    return b"".join(c.compress(piece) for _ in range(size >> 20)) + c.flush()


@pytest.mark.parametrize("compression", ["zstd", "gzip"])
def test_a_small_object_that_decodes_huge_comes_out_in_bounded_pieces(compression):
    # Given 64 MiB of one letter, compressed to a few KB, given as one chunk
    blob = _bomb(compression, 64 << 20)
    assert len(blob) < 1 << 20
    # When it is decoded; Then no piece is larger than the bound, and all of it comes out
    sizes = [len(piece) for piece in decompress_stream(compression, [blob])]
    assert max(sizes) <= DECODED_PIECE_BYTES
    assert sum(sizes) == 64 << 20


def test_zstd_frames_of_every_block_kind_decode_in_bounded_pieces():
    # Given frames with raw, RLE and compressed blocks, a checksum, a skippable frame between them,
    # and another frame of the zstd tool's own (content size in the header)
    mixed = bytes(range(256)) * 4000 + b"\0" * 3_000_000 + b"INSERT INTO t VALUES (1);\n" * 100_000
    skippable = b"\x50\x2a\x4d\x18" + (5).to_bytes(4, "little") + b"hello"
    tool = subprocess.run(["zstd", "-c", "-3"], input=mixed, capture_output=True, check=True).stdout
    checked = zstandard.ZstdCompressor(write_checksum=True).compress(mixed)
    blob = compress_frame("zstd", mixed) + skippable + tool + checked
    # When decoded in odd-sized chunks
    pieces = list(decompress_stream("zstd", [blob[i : i + 9999] for i in range(0, len(blob), 9999)]))
    # Then it is the content thrice, in bounded pieces
    assert b"".join(pieces) == mixed * 3
    assert max(map(len, pieces)) <= DECODED_PIECE_BYTES
