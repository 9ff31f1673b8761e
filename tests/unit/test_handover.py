"""read_ahead(): a source read a few items ahead in a thread of its own, as a restore decodes frames."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import closing

import pytest

from cloudbackup.handover import read_ahead


def chunks(n: int, fail_at: int | None = None) -> Iterator[bytes]:
    for i in range(n):
        if i == fail_at:
            raise ValueError(f"damaged at {i}")
        yield b"%d;" % i


def test_every_item_comes_once_in_order():
    assert list(read_ahead(chunks(500))) == list(chunks(500))


def test_an_error_in_the_source_reaches_the_consumer_after_the_items_before_it():
    got: list[bytes] = []

    def read_all() -> None:
        got.extend(read_ahead(chunks(20, fail_at=7)))

    with pytest.raises(ValueError, match="damaged at 7"):
        read_all()
    assert got == list(chunks(7))


def test_closing_early_joins_the_thread_before_the_source_is_read_again():
    # Given a body read through a decoder in a read-ahead thread, as FrameStream's frames are
    body = chunks(10_000)
    before = threading.active_count()
    with closing(read_ahead(piece.upper() for piece in body)) as ahead:
        # When the consumer stops after two items (a refused statement)
        assert [next(ahead), next(ahead)] == [b"0;", b"1;"]
    # Then no thread is left, and the body can be drained here (no "generator already executing")
    assert threading.active_count() == before
    rest = list(body)
    assert rest[-1:] == [b"9999;"]
