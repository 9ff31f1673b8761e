"""What the backup failure tests share: a progress hook that injects a fault, and the check that
nothing of a failed backup is left. (The database they interrupt is the `busy_db` fixture.)"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from cloudbackup.catalog import list_backups
from cloudbackup.dburl import DbSettings
from cloudbackup.mysql import shared_snapshot
from cloudbackup.progress import NoProgress
from cloudbackup.storage.local import LocalStorage
from tests.fixtures.mariadb import admin_connect


class Hook(NoProgress):
    """Runs `on_begin` once the snapshot is open, `on_rows` once the first rows are written."""

    def __init__(self, on_begin: Callable[[], None] | None = None, on_rows: Callable[[], None] | None = None):
        self.on_begin, self.on_rows = on_begin, on_rows
        self.rows = 0

    def begin(self, what: str, tables: int) -> None:
        if self.on_begin is not None:
            self.on_begin()

    def add(self, *, tables: int = 0, rows: int = 0, bytes: int = 0) -> None:
        if rows and self.rows == 0 and self.on_rows is not None:
            self.on_rows()
        self.rows += rows


def assert_nothing_kept(store: LocalStorage, root: Path) -> None:
    assert list_backups([store]) == []
    assert [p for p in root.rglob("*") if p.is_file()] == []


@contextmanager
def inserting(
    settings: DbSettings, database: str, *, pause: float, first: int, seconds: float | None = None
) -> Iterator[None]:
    """A session committing one row per transaction into `t (v)` of `database`, `pause` seconds apart.

    Entered once `first` rows are committed; the session stops on exit, or `seconds` after it began."""
    stop = threading.Event()
    inserted = threading.Semaphore(0)

    def insert() -> None:
        until = time.monotonic() + seconds if seconds is not None else float("inf")
        with admin_connect(settings, database) as conn, conn.cursor() as cur:
            while not stop.is_set() and time.monotonic() < until:
                cur.execute("INSERT INTO t (v) VALUES (0)")
                inserted.release()
                time.sleep(pause)

    writer = threading.Thread(target=insert, daemon=True)
    writer.start()
    try:
        for _ in range(first):
            assert inserted.acquire(timeout=30)
        yield
    finally:
        stop.set()
        writer.join(timeout=30)


def commits_never_stop(monkeypatch) -> None:
    """Every reading of the lock-free proof finds a commit under way, as on a server whose commits never
    stop. A test's writer sessions leave gaps of a millisecond between their commits, and on MySQL, which
    takes no quiet pause, a try can pass through one: the tests that call this check what follows a failed
    proof (their writers are real, and the rows are checked against the position recorded)."""
    monkeypatch.setattr(shared_snapshot, "_commit_under_way", lambda reading: True)
