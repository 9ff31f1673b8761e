"""interleave(): two readers' items merged as they come, errors and early stops handled on both sides."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from cloudbackup.mysql.parallel import KeyRanges, RangeQueue, interleave, read_ranges


class Tracked:
    """An iterator over `items` that records whether it was closed, optionally failing at the end."""

    def __init__(self, items: list[str], fail: Exception | None = None):
        self.items, self.fail, self.closed = items, fail, False

    def __iter__(self) -> Iterator[str]:
        return self._run()

    def _run(self) -> Iterator[str]:
        try:
            yield from self.items
            if self.fail is not None:
                raise self.fail
        finally:
            self.closed = True


def test_every_item_of_both_sides_comes_once_each_side_in_its_order():
    own = [f"own{i}" for i in range(50)]
    side = [f"side{i}" for i in range(70)]
    merged = list(interleave(iter(own), iter(side), interrupt=lambda: None))
    assert sorted(merged) == sorted(own + side)
    assert [x for x in merged if x.startswith("own")] == own
    assert [x for x in merged if x.startswith("side")] == side


def test_an_error_on_the_side_is_raised_and_our_own_reader_is_closed():
    own = Tracked([f"own{i}" for i in range(10_000)])
    side = Tracked(["side0"], fail=RuntimeError("lost the upper half"))
    interrupted = threading.Event()
    with pytest.raises(RuntimeError, match="lost the upper half"):
        for _ in interleave(iter(own), iter(side), interrupt=interrupted.set):
            pass
    assert own.closed
    assert side.closed
    assert interrupted.is_set()


def test_an_error_on_our_side_interrupts_the_side_and_waits_for_it():
    release = threading.Event()

    def blocked_side() -> Iterator[str]:
        yield "side0"
        release.wait(timeout=30)  # like a socket read that only the interrupt ends
        raise OSError("socket shut")

    own = Tracked(["own0"], fail=ValueError("own failure"))
    with pytest.raises(ValueError, match="own failure"):
        list(interleave(iter(own), blocked_side(), interrupt=release.set))
    assert release.is_set()


def test_closing_early_stops_a_side_that_still_has_items():
    side = Tracked([f"side{i}" for i in range(10_000)])
    interrupted = threading.Event()
    merged = interleave(iter(["own0", "own1"]), iter(side), interrupt=interrupted.set)
    next(merged)
    merged.close()
    assert interrupted.is_set()
    assert side.closed


def test_range_clauses_cover_the_key_range_once():
    ranges = KeyRanges(column="i`d", bounds=(10, 20))
    assert ranges.clauses() == [
        "WHERE `i``d` <= 10",
        "WHERE `i``d` > 10 AND `i``d` <= 20",
        "WHERE `i``d` > 20",
    ]


def test_two_readers_take_every_range_once_between_them():
    left = RangeQueue([f"r{i}" for i in range(100)])

    def read(connection: str, where: str) -> Iterator[str]:
        yield f"{connection}:{where}"

    merged = list(
        interleave(read_ranges("a", left, read), read_ranges("b", left, read), interrupt=lambda: None)
    )
    assert sorted(item.split(":")[1] for item in merged) == sorted(f"r{i}" for i in range(100))
    assert {item.split(":")[0] for item in merged} == {"a", "b"}
