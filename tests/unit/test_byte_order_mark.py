"""without_byte_order_mark(): a dump file's leading UTF-8 byte order mark is dropped, however the file's
chunks fall, and nothing else is touched (the stock mysql clients skip it at the start only)."""

from __future__ import annotations

import pytest

from cloudbackup.restore import UTF8_BOM, without_byte_order_mark

SQL = b"CREATE TABLE t (a int);\n"


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        ([UTF8_BOM + SQL], SQL),
        ([UTF8_BOM[:1], UTF8_BOM[1:2], UTF8_BOM[2:] + SQL], SQL),  # the mark split over three chunks
        ([UTF8_BOM[:2], UTF8_BOM[2:], SQL], SQL),
        ([SQL], SQL),
        ([SQL + UTF8_BOM], SQL + UTF8_BOM),  # further on it is not a mark: the check refuses it there
        ([UTF8_BOM], b""),
        ([UTF8_BOM[:2]], UTF8_BOM[:2]),  # too short to be the mark
        ([], b""),
        ([b"", b"", UTF8_BOM + SQL], SQL),
    ],
    ids=[
        "whole",
        "split in three",
        "split in two",
        "none",
        "later",
        "only",
        "short",
        "empty",
        "empty chunks",
    ],
)
def test_only_a_leading_mark_is_dropped(chunks, expected):
    assert b"".join(without_byte_order_mark(iter(chunks))) == expected
