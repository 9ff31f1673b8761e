"""merge(): readers' items merged as they come, errors and early stops handled in every reader;
split_span(): key ranges that hold a span once."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator

import pytest

from cloudbackup.handover import merge
from cloudbackup.mysql.chunks import KeySpan
from cloudbackup.mysql.parallel import RangeQueue, read_ranges, split_span


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


def test_every_item_of_every_reader_comes_once_each_reader_in_its_order():
    readers = [[f"r{r}-{i}" for i in range(50 + 10 * r)] for r in range(3)]
    merged = list(merge([iter(items) for items in readers], interrupt=lambda: None))
    assert sorted(merged) == sorted(item for items in readers for item in items)
    for r, items in enumerate(readers):
        assert [x for x in merged if x.startswith(f"r{r}-")] == items


def test_an_error_in_one_reader_is_raised_and_the_others_are_interrupted_and_closed():
    release = threading.Event()

    def blocked() -> Iterator[str]:
        yield "b0"
        release.wait(timeout=30)  # like a socket read that only the interrupt ends
        raise OSError("socket shut")

    busy = Tracked([f"busy{i}" for i in range(10_000)])
    failing = Tracked(["f0"], fail=RuntimeError("lost the upper half"))
    with pytest.raises(RuntimeError, match="lost the upper half"):
        for _ in merge([iter(busy), blocked(), iter(failing)], interrupt=release.set):
            pass
    assert release.is_set()
    assert busy.closed
    assert failing.closed


def test_closing_early_stops_readers_that_still_have_items():
    readers = [Tracked([f"r{r}-{i}" for i in range(10_000)]) for r in range(2)]
    interrupted = threading.Event()
    merged = merge([iter(r) for r in readers], interrupt=interrupted.set)
    next(merged)
    merged.close()
    assert interrupted.is_set()
    assert all(r.closed for r in readers)


@pytest.mark.parametrize(
    ("low", "high", "parts"),
    [(0, 1_000_000, 32), (-51, 49, 7), (9, 12, 16), (2**64 - 100, 2**64 - 1, 8), (4, 5, 4)],
)
def test_split_spans_hold_the_span_once_in_order(low, high, parts):
    span = KeySpan("id", low, high)
    pieces = split_span(span, parts)
    assert pieces[0].low == low
    assert pieces[-1].high == high
    assert all(a.high == b.low for a, b in itertools.pairwise(pieces))
    assert all(p.low < p.high for p in pieces)
    assert len(pieces) == min(parts, high - low)


def test_a_span_is_read_as_a_where_clause_on_its_quoted_column():
    assert KeySpan("i`d", -1, 20).where() == "WHERE `i``d` > -1 AND `i``d` <= 20"


def test_readers_take_every_range_once_between_them():
    left = RangeQueue([KeySpan("id", i, i + 1) for i in range(100)])
    all_started = threading.Barrier(3, timeout=30)  # each reader holds a range before any goes on

    def read(connection: str, span: KeySpan) -> Iterator[str]:
        if span.high <= 3:
            all_started.wait()
        yield f"{connection}:{span.high}"

    merged = list(merge([read_ranges(name, left, read) for name in "abc"], interrupt=lambda: None))
    assert sorted(int(item.split(":")[1]) for item in merged) == list(range(1, 101))
    assert {item.split(":")[0] for item in merged} == {"a", "b", "c"}
