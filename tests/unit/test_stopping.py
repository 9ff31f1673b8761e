"""interrupt_on_signals(): Ctrl-C and SIGTERM say so at once, and raise KeyboardInterrupt in the
main thread, never inside a lock's or a queue's own code (where it can leave a thread waiting forever)."""

from __future__ import annotations

import queue
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator

import pytest

from cloudbackup import stopping
from cloudbackup.format.writer import FrameWriter
from cloudbackup.stopping import cancel_pending_interrupt, interrupt_on_signals, interruption_point
from tests.unit.test_dump_writer import MemorySink

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGALRM)


@pytest.fixture
def said() -> Iterator[list[float]]:
    """The CLI's handlers installed for the test (pytest's own put back after), and when each said so."""
    before = {signum: signal.getsignal(signum) for signum in SIGNALS}
    times: list[float] = []
    interrupt_on_signals(lambda: times.append(time.monotonic()))
    yield times
    cancel_pending_interrupt()
    for signum, handler in before.items():
        signal.signal(signum, handler)


def signal_main_thread_in(seconds: float, signum: int = signal.SIGINT) -> None:
    main = threading.main_thread().ident
    assert main is not None
    threading.Timer(seconds, signal.pthread_kill, args=(main, signum)).start()


def files_of(caught: pytest.ExceptionInfo[KeyboardInterrupt]) -> list[str]:
    return [frame.filename for frame in traceback.extract_tb(caught.tb)]


def put_in_short_waits(into: queue.Queue[str], item: str) -> None:
    """As the dump thread waits for room: in short waits, an interruption point between them."""
    while True:
        interruption_point()
        try:
            into.put(item, timeout=0.3)
            return
        except queue.Full:
            continue


def busy(seconds: float, after: Callable[[], object] = lambda: None) -> None:
    """Plain Python code for `seconds`, after `after()` returns."""
    after()
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        sum(range(1000))


def write_rows(writer: FrameWriter, statements: int) -> None:
    for _ in range(statements):
        writer.write(b"INSERT INTO t VALUES (1);\n" * 100)


def landed_in(caught: pytest.ExceptionInfo[KeyboardInterrupt]) -> str:
    """The file the interrupt was raised in, below the signal handlers' own frames."""
    return [name for name in files_of(caught) if name != stopping.__file__][-1]


def inside_synchronisation(files: list[str]) -> bool:
    return any(name in (queue.__file__, threading.__file__) for name in files)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_while_waiting_on_a_full_queue_is_raised_outside_the_queue_and_leaves_it_working(
    said, signum
):
    # Given a main thread that waits, again and again, to put on a full queue (a dump waiting on its writer)
    full = queue.Queue(maxsize=1)
    full.put("waiting")
    signal_main_thread_in(0.1, signum)
    # When the signal comes
    with pytest.raises(KeyboardInterrupt) as caught:
        put_in_short_waits(full, "next")
    # Then it was said at once, and raised at the loop's interruption point, not inside the queue
    assert len(said) == 1
    assert not inside_synchronisation(files_of(caught)), files_of(caught)
    assert landed_in(caught) == __file__
    # And the queue still hands over both ways: no lock left held, no waiter left behind
    taken: list[object] = []
    taker = threading.Thread(target=lambda: taken.extend([full.get(timeout=5), full.get(timeout=5)]))
    taker.start()
    full.put("after", timeout=5)
    taker.join(timeout=10)
    assert taken == ["waiting", "after"]


def test_a_signal_while_blocked_on_an_empty_queue_is_raised_once_the_wait_ends(said):
    # Given a main thread blocked, with no timeout, on an empty queue that a thread fills later
    empty: queue.Queue[str] = queue.Queue()
    put_at: list[float] = []
    threading.Timer(0.5, lambda: (put_at.append(time.monotonic()), empty.put("item"))).start()
    signal_main_thread_in(0.1)
    # When the signal comes while it waits
    with pytest.raises(KeyboardInterrupt) as caught:
        busy(5, after=empty.get)
    # Then it was said at once and raised here soon after the wait ended, not inside it
    assert said[0] < put_at[0] - 0.2
    assert time.monotonic() - put_at[0] < 2
    assert landed_in(caught) == __file__, files_of(caught)


def test_a_signal_in_plain_code_is_raised_at_once(said):
    signal_main_thread_in(0.1)
    with pytest.raises(KeyboardInterrupt) as caught:
        busy(10)
    assert time.monotonic() - said[0] < 0.5
    assert landed_in(caught) == __file__, files_of(caught)


class StalledSink(MemorySink):
    """A store that takes its time over every write (a slow link): the dump thread waits on the queue."""

    def write(self, data: bytes) -> None:
        time.sleep(0.05)
        super().write(data)


def test_a_backup_writer_stopped_while_its_queue_is_full_raises_in_the_dump_thread_and_aborts(said):
    # Given a dump thread writing faster than its store takes it
    sink = StalledSink()
    writer = FrameWriter(sink, "none")
    writer.begin_frame("table", "t")
    signal_main_thread_in(0.3)
    # When the signal comes while it waits for room
    with pytest.raises(KeyboardInterrupt) as caught:
        write_rows(writer, 10_000)
    # Then it is raised in the dump thread's own code, not inside the queue it waited on
    assert not inside_synchronisation(files_of(caught)), files_of(caught)
    # And the abort that cleanup makes finishes, leaving nothing written
    aborting = threading.Thread(target=writer.abort, daemon=True)
    aborting.start()
    aborting.join(timeout=10)
    assert not aborting.is_alive()
    assert sink.aborted
    assert not sink.data


class StuckWork:
    """A queue no thread takes from, one no thread fills, a task never done, a condition never met,
    a thread that does not end: a loader or a writer whose workers wait on a server's lock or on S3.
    `release()` ends them all (the test's own way out)."""

    def __init__(self) -> None:
        self.full: queue.Queue[str] = queue.Queue(maxsize=1)
        self.full.put("taken by no one")
        self.empty: queue.Queue[str] = queue.Queue()
        self.condition = threading.Condition()
        self.released = False
        self.gate = threading.Event()
        self.worker = threading.Thread(target=self.gate.wait, daemon=True)
        self.worker.start()

    def release(self) -> None:
        self.gate.set()
        self.empty.put("late")
        self.full.get_nowait()
        self.full.task_done()
        with self.condition:
            self.released = True
            self.condition.notify_all()

    def put(self) -> None:
        stopping.put(self.full, "next")

    def get(self) -> None:
        stopping.get(self.empty)

    def join(self) -> None:
        stopping.join(self.full)

    def wait_for(self) -> None:
        with self.condition:
            stopping.wait_for(self.condition, lambda: self.released)

    def join_thread(self) -> None:
        stopping.join_thread(self.worker)


@pytest.mark.parametrize("wait", ["put", "get", "join", "wait_for", "join_thread"])
def test_an_interruptible_wait_on_stuck_work_is_interrupted_within_a_step(said, wait):
    # Given the main thread waiting on work that does not move
    stuck = StuckWork()
    way_out = threading.Timer(10, stuck.release)
    way_out.start()
    signal_main_thread_in(0.1)
    # When the signal comes
    with pytest.raises(KeyboardInterrupt) as caught:
        getattr(stuck, wait)()
    way_out.cancel()
    # Then the wait ended within a few of its steps, at an interruption point, not inside a lock
    assert time.monotonic() - said[0] < 1
    assert not inside_synchronisation(files_of(caught)), files_of(caught)


def test_a_put_waiting_for_room_raises_what_its_check_reports_within_a_step():
    # Given a put waiting on a full queue, whose taking side fails 0.2 s later
    stuck = StuckWork()
    failed: list[Exception] = []
    way_out = threading.Timer(10, stuck.release)
    way_out.start()
    threading.Timer(0.2, failed.append, args=(OSError("the part upload failed"),)).start()

    def check() -> None:
        if failed:
            raise failed[0]

    # When the put runs with that check
    started = time.monotonic()
    with pytest.raises(OSError, match="the part upload failed"):
        stopping.put(stuck.full, "next", check=check)
    way_out.cancel()
    # Then the failure ends the wait within a step, and the item was never put
    assert time.monotonic() - started < 0.2 + 3 * stopping.STEP_SECONDS
    assert stuck.full.get_nowait() == "taken by no one"
