"""Stopping a long run from outside: SIGTERM (what ECS, systemd and Docker send) or SIGINT (Ctrl-C).

A follower stopped this way commits what it read before it returns: stopping is its normal end.
Any other command is interrupted: KeyboardInterrupt is raised in its main thread, and its cleanup
deletes whatever was half-written.
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, TypeVar

# Python raises a signal handler's exception after whatever bytecode the main thread is at. Inside
# a lock's, a condition's or a queue's own code that can leave a lock held, or a wakeup sent to no
# one, and a thread the cleanup then joins waits forever (a backup stopped while its dump thread
# waited on a full queue hung so). The interrupt waits until the main thread is out of these files.
_NOT_HERE = frozenset(module.__file__ for module in (threading, queue, logging))
RETRY_SECONDS = 0.02
STEP_SECONDS = 0.1  # the steps of an interruptible wait

T = TypeVar("T")

_waiting = False  # an interrupt came inside thread synchronisation and waits for a safe place
_deferring: str | None = None  # inside interrupts_deferred: why the run goes on, said at a signal


def stop_on_signals() -> threading.Event:
    """An event set by the next SIGINT or SIGTERM (call from the main thread: Python's rule for handlers)."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    return stop


def interrupt_on_signals(say: Callable[[], None], say_going_on: Callable[[str], None] | None = None) -> None:
    """SIGINT and SIGTERM call `say` at once, then raise KeyboardInterrupt in the main thread where
    it is safe: at once in plain code; inside thread synchronisation, at the next interruption point
    or, for a passing wait, as soon as the main thread is out of it. Inside `interrupts_deferred`
    they call `say_going_on(why)` instead, and the run goes on."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        if _deferring is not None:
            if say_going_on is not None:
                say_going_on(_deferring)
            return
        say()
        _raise_where_safe(frame)

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGALRM, lambda signum, frame: _raise_where_safe(frame))


@contextmanager
def interrupts_deferred(why: str) -> Iterator[None]:
    """A step that cannot stop halfway: inside it SIGINT and SIGTERM do not interrupt the run, which
    goes on to the end; `why` is said instead (see interrupt_on_signals). For what comes after a
    change that has no way back, where stopping would leave less than finishing (SIGKILL still
    stops it: the step must leave nothing worse than an interrupt would)."""
    global _deferring
    previous, _deferring = _deferring, why
    cancel_pending_interrupt()  # one that came before and still waits would fire inside
    try:
        yield
    finally:
        _deferring = previous


def interruption_point() -> None:
    """Raise a waiting interrupt here. A loop that waits on a queue or a thread in short steps calls
    this at every step: its waits are where the main thread spends its time, so the timer's look
    would seldom find it outside them."""
    if _waiting and _deferring is None and threading.current_thread() is threading.main_thread():
        cancel_pending_interrupt()
        raise KeyboardInterrupt


def put(into: queue.Queue[T], item: T, check: Callable[[], None] | None = None) -> None:
    """into.put(item), waiting for room in short steps with an interruption point between them: a
    stop still comes while the threads that take the items are stuck (on a server's lock). `check`
    runs at every step too, to raise what the taking side reported (it failed, or was aborted)."""
    while True:
        if check is not None:
            check()
        interruption_point()
        try:
            into.put(item, timeout=STEP_SECONDS)
            return
        except queue.Full:
            continue


def get(source: queue.Queue[T]) -> T:
    """source.get(), waiting for an item the same way."""
    while True:
        interruption_point()
        try:
            return source.get(timeout=STEP_SECONDS)
        except queue.Empty:
            continue


def join(tasks: queue.Queue[Any]) -> None:
    """tasks.join() (every item put is done), waiting the same way."""
    with tasks.all_tasks_done:
        wait_for(tasks.all_tasks_done, lambda: not tasks.unfinished_tasks)


def wait_for(condition: threading.Condition, predicate: Callable[[], bool]) -> None:
    """condition.wait_for(predicate), called with the condition held, waiting the same way."""
    while not predicate():
        interruption_point()
        condition.wait(STEP_SECONDS)


def join_thread(thread: threading.Thread) -> None:
    """thread.join(), waiting the same way."""
    while thread.is_alive():
        interruption_point()
        thread.join(STEP_SECONDS)


def cancel_pending_interrupt() -> None:
    """Drop an interrupt still waiting for a safe place (the run is over, or it is raised now)."""
    global _waiting
    _waiting = False
    signal.setitimer(signal.ITIMER_REAL, 0)


def _raise_where_safe(frame: FrameType | None) -> None:
    global _waiting
    if _deferring is not None:
        cancel_pending_interrupt()
        return
    if _inside_synchronisation(frame):
        # Look again shortly; the timer's signal also wakes a wait, which Python then resumes.
        _waiting = True
        signal.setitimer(signal.ITIMER_REAL, RETRY_SECONDS)
        return
    cancel_pending_interrupt()
    raise KeyboardInterrupt


def _inside_synchronisation(frame: FrameType | None) -> bool:
    while frame is not None:
        if frame.f_code.co_filename in _NOT_HERE:
            return True
        frame = frame.f_back
    return False
