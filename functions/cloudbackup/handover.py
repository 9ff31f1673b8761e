"""Iterators read in threads of their own, their items handed over through a small bounded queue.

A reader whose work releases the GIL (a socket read, zstd decompression, SHA-256 of a chunk) then
runs while the consumer's Python works on the previous items; memory stays flat, as at most a few
items wait in the queue.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator, Iterator
from typing import Any, Final, TypeVar

from cloudbackup import stopping

HANDOVER_DEPTH = 4
STOP_POLL_SECONDS = 0.1

T = TypeVar("T")
_DONE: Final = object()


def read_ahead(items: Iterator[T]) -> Generator[T, None, None]:
    """`items`, produced in a thread of its own a few items ahead. Close the result when stopping
    early: that stops and joins the thread before `items`' sources are touched again."""
    return merge([items], interrupt=lambda: None)


def merge(readers: list[Iterator[T]], interrupt: Callable[[], None]) -> Generator[T, None, None]:
    """Every item of every reader, each read in a thread of its own, in the order they are ready.

    An error in any reader is raised here, and the others stop. `interrupt` is called when this stops
    early (an error, or the consumer closing it) while readers may still be reading. It must wake
    them, for example by shutting their connections' sockets.
    """
    handover: queue.Queue[object] = queue.Queue(maxsize=HANDOVER_DEPTH * len(readers))
    stop = threading.Event()
    threads = [
        threading.Thread(target=_read_in_thread, args=(reader, handover, stop), daemon=True)
        for reader in readers
    ]
    for thread in threads:
        thread.start()
    running, finished = len(threads), False
    try:
        while running:
            ready = stopping.get(handover)
            if ready is _DONE:
                running -= 1
            else:
                yield _unwrap(ready)
        finished = True
    finally:
        if not finished:
            stop.set()
            interrupt()
        for thread in threads:
            thread.join()


def _unwrap(item: object) -> Any:
    if isinstance(item, BaseException):
        raise item
    return item


def _read_in_thread(reader: Iterator[T], handover: queue.Queue[object], stop: threading.Event) -> None:
    try:
        for item in reader:
            if not _hand_over(handover, item, stop):
                return
        _hand_over(handover, _DONE, stop)
    except BaseException as exc:  # handed to the consumer, which raises it
        _hand_over(handover, exc, stop)
    finally:
        _close(reader)


def _close(items: Iterator[Any]) -> None:
    """Close a generator (its `finally` runs now, in this thread); a plain iterator has nothing to close."""
    close = getattr(items, "close", None)
    if close is not None:
        close()


def _hand_over(handover: queue.Queue[object], item: object, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            handover.put(item, timeout=STOP_POLL_SECONDS)
            return True
        except queue.Full:
            continue
    return False
