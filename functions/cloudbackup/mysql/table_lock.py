"""MySQL, only once the lock-free proof has failed: a brief `LOCK TABLES … READ` on the backup's own tables.

shared_snapshot.py first proves without any lock that the binary log did not move while the snapshots
opened. A server that never pauses writing fails that proof on every try. Without this the backup
would record no position (it could not start a point-in-time restore) and read every table on one
connection. So then, and only then, the backup's own tables are held still for a moment: on a
connection of its own (START TRANSACTION releases a session's table locks, so the snapshots cannot
open on the locking session), `SET SESSION lock_wait_timeout` to LOCK_WAIT_SECONDS, then
`LOCK TABLES db.t1 READ, db.t2 READ, …` on every base table the backup reads (views are not locked:
they hold no rows of their own). While it is held the snapshots open and the position is read on
the locking connection; then UNLOCK TABLES.

Why that position is the snapshot's: a transaction that writes a table holds the table's metadata
lock until its commit has completed (the binary log written, InnoDB committed, its GTID added to the
executed set). `LOCK TABLES … READ` is granted only when no writer holds such a lock, and no writer
gets one until UNLOCK TABLES. So while it is held no transaction that writes these tables is in
flight or can begin writing them: every one of them that is in the position is in the snapshots,
and none after it, and all the snapshots hold the same rows of these tables. A table created in the
database meanwhile is not held, but reading it in an older snapshot fails the dump (1412, as any
DDL during a backup does).

Transactions of other databases may still commit while the lock is held. They are in the recorded
GTID set and binary log offset but not in the snapshot, which is harmless: a point-in-time restore
replays from the recorded offset and only the backed-up database's events (binlog/replay.py keeps a
rows event only when its Table_map names that database, and a DDL statement only when that is its
default database), so whatever other databases did before the offset is never needed.

What it costs: writers of these tables wait while it is held, a few milliseconds (the snapshots'
START TRANSACTION and one position read). LOCK TABLES takes the tables one after the other and keeps
those it has while it waits for the next, held by a writer: the writers of the tables it has wait
with it, and a transaction that holds the awaited table and then writes one of those is the one
MySQL's deadlock detection fails (an error in the application). So no try waits longer than
GRANT_WAIT_SECONDS: its own statement is cut short with KILL QUERY from a second session (the
shortest lock_wait_timeout is a second), and it is tried again after a pause in which the writers go
on, for up to LOCK_WAIT_SECONDS. A long transaction writing one of the tables, or writers that
overlap without a gap, keep the lock from being granted; then the backup goes on as before (no
position, one connection). A user without the LOCK TABLES privilege skips it the same way. It is no
global lock: no other database is touched, and a server that pauses between writes never sees it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pymysql

from cloudbackup.errors import CloudBackupError
from cloudbackup.mysql.identifiers import quote_identifier
from cloudbackup.mysql.server_text import text

LOCK_WAIT_SECONDS = 2  # how long the lock is tried before the backup goes on without it
GRANT_WAIT_SECONDS = 0.05  # longest one try waits, holding some tables (and their writers) for the rest
RETRY_PAUSE_SECONDS = 0.1  # between tries, long enough for the writers it held up to finish
ER_LOCK_WAIT_TIMEOUT = 1205
ER_QUERY_INTERRUPTED = 1317  # the try was cut short by its GRANT_WAIT_SECONDS
NOT_GRANTED = frozenset({1044, 1142, 1227})  # LOCK TABLES is not granted on the database or a table


class LockUnavailable(Exception):
    """The tables could not be locked; the message says why, in a phrase."""


@dataclass(frozen=True)
class TableLock:
    """How to hold the base tables of `database` (but `exclude`) still: `connect` opens a new session."""

    connect: Callable[[], Any]
    database: str
    exclude: Collection[str] = ()

    @contextmanager
    def held(self) -> Iterator[Any]:
        """A cursor on the locking session while every table is locked; LockUnavailable if they cannot be."""
        conn = self._session()
        try:
            with conn.cursor() as cur:
                tables = [t for t in base_tables(cur, self.database) if t not in self.exclude]
                if tables:
                    self._lock(cur, tables)
                yield cur
                if tables:
                    cur.execute("UNLOCK TABLES")
        finally:
            conn.close()  # (after an error too: closing the session releases its locks)

    def _session(self) -> Any:
        try:
            return self.connect()
        except (CloudBackupError, pymysql.err.MySQLError) as exc:
            raise LockUnavailable(
                f"no connection could be opened to lock {self.database}'s tables ({exc})"
            ) from None

    def _lock(self, cur: Any, tables: list[str]) -> None:
        """LOCK TABLES, tried in short waits (see the module's doc) until it is granted or time is up."""
        db = quote_identifier(self.database)
        statement = "LOCK TABLES " + ", ".join(f"{db}.{quote_identifier(t)} READ" for t in tables)
        cur.execute(f"SET SESSION lock_wait_timeout = {LOCK_WAIT_SECONDS}")
        stopper = self._session()
        try:
            give_up = time.monotonic() + LOCK_WAIT_SECONDS
            while True:
                try:
                    return run_within(cur, statement, GRANT_WAIT_SECONDS, stopper)
                except pymysql.err.MySQLError as exc:
                    if not exc.args or exc.args[0] != ER_QUERY_INTERRUPTED:
                        raise LockUnavailable(self._refusal(exc)) from None
                if time.monotonic() + RETRY_PAUSE_SECONDS >= give_up:
                    raise LockUnavailable(self._waited_in_vain())
                time.sleep(RETRY_PAUSE_SECONDS)
        finally:
            stopper.close()

    def _refusal(self, exc: pymysql.err.MySQLError) -> str:
        code = exc.args[0] if exc.args else 0
        if code == ER_LOCK_WAIT_TIMEOUT:
            return self._waited_in_vain()
        if code in NOT_GRANTED:
            return (
                f"the backup user may not LOCK TABLES on {self.database} (grant LOCK TABLES for a position)"
            )
        return f"LOCK TABLES on {self.database}'s tables failed ({exc})"

    def _waited_in_vain(self) -> str:
        return (
            f"LOCK TABLES on {self.database}'s tables waited {LOCK_WAIT_SECONDS} s in vain "
            "(a long transaction is writing one of them)"
        )


def run_within(cur: Any, statement: str, seconds: float, stopper: Any) -> None:
    """`statement` on `cur`, cut short (error 1317) by KILL QUERY on `stopper` if it runs `seconds`.

    A KILL that comes just after the statement ended finds the session idle, which the server ignores.
    """
    thread_id = cur.connection.thread_id()
    finished = False
    turn = threading.Lock()  # the kill is sent whole before the caller goes on, or not at all

    def stop() -> None:
        with turn:
            if not finished:
                with stopper.cursor() as kill:
                    kill.execute(f"KILL QUERY {int(thread_id)}")

    timer = threading.Timer(seconds, stop)
    timer.start()
    try:
        cur.execute(statement)
    finally:
        with turn:
            finished = True
        timer.cancel()
        timer.join()


def base_tables(cur: Any, database: str) -> list[str]:
    """The base tables of `database` (no views), by name."""
    cur.execute(
        "SELECT TABLE_NAME FROM information_schema.TABLES"
        " WHERE TABLE_SCHEMA = %s AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME",
        (database,),
    )
    return [text(name) for (name,) in cur.fetchall()]
