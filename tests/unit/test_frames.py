"""Compression frames: concatenated frames decode as one stream; truncation is detected."""

import gzip
import subprocess

import pytest

from cloudbackup.errors import IntegrityError
from cloudbackup.format.frames import compress_frame, decompress_stream, detect_compression


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
