"""Send a stream of statements to the server over several connections.

Row statements (INSERT/REPLACE … VALUES) are independent once their table exists, so they go to
whichever connection is free: that is how a restore beats the single-threaded mysql client, even on
one big table. Everything else is a barrier: session statements (SET, transaction control) run on
every connection, in order, so each keeps the session the dump expects; DDL runs once, after every
row statement before it has finished. Statements are sent as the dump holds them, never re-encoded.

A failure reports the statement's number and line, what it belonged to, and the server's error,
in one line; the loader then stops sending.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import pymysql

from cloudbackup.dburl import DbSettings
from cloudbackup.errors import OperationError
from cloudbackup.mysql.connection import connect
from cloudbackup.mysql.definer import DefinerPolicy, DefinerRewriter, definer_error_hint
from cloudbackup.mysql.splitter import QuoteModes, Statement

log = logging.getLogger(__name__)

Kind = Literal["rows", "session", "once", "skip", "use"]

# Every connection starts like this; the dump's own header then sets the rest (names, sql_mode, zone).
SESSION_SETUP = (
    "SET SESSION foreign_key_checks = 0, unique_checks = 0, "
    "net_read_timeout = 3600, net_write_timeout = 3600, wait_timeout = 86400"
)
ER_LOCK_DEADLOCK = 1213
ER_LOCK_WAIT_TIMEOUT = 1205
RETRIES = 3
SERVER_STATUS_NO_BACKSLASH_ESCAPES = 0x200
SERVER_STATUS_ANSI_QUOTES = 0x8000  # MariaDB

_HEAD = re.compile(
    rb"(?:\s|/\*M?!\d*)*+"  # conditional comment openers count as code: `/*!40101 SET …`
    rb"(INSERT|REPLACE|SET|LOCK|UNLOCK|USE|CREATE|DROP|COMMIT|BEGIN|START|ROLLBACK|[A-Z]+)\b"
    rb"\s*(\S{0,16})",
    re.IGNORECASE,
)
_VALUES = re.compile(rb"\bVALUES?\b", re.IGNORECASE)
_GLOBAL = re.compile(rb"@@GLOBAL\b|\bGLOBAL\s", re.IGNORECASE)


def classify(sql: bytes) -> Kind:
    """What kind of statement this is, for the loader. Looks at the first few bytes only."""
    m = _HEAD.match(sql, 0, 256)
    if m is None:
        return "once"
    word, following = m.group(1).upper(), m.group(2).upper()
    if word in (b"INSERT", b"REPLACE"):
        # Rows from VALUES lists are independent; INSERT … SELECT reads other tables: keep it in order.
        return "rows" if _VALUES.search(sql, 0, 64 * 1024) else "once"
    if word == b"SET":
        return "once" if _GLOBAL.search(sql, 0, 256) else "session"
    if word in (b"COMMIT", b"BEGIN", b"ROLLBACK") or (word == b"START" and following.startswith(b"TRANS")):
        return "session"
    if word in (b"LOCK", b"UNLOCK") and following.startswith(b"TABLE"):
        # A table lock held by one connection would block the others' rows; the staging database
        # is private to this restore anyway.
        return "skip"
    if word == b"USE":
        return "use"
    if word in (b"CREATE", b"DROP") and following.startswith((b"DATABASE", b"SCHEMA")):
        return "use"
    return "once"


class LoadError(OperationError):
    """A statement failed: the message names it (number, line, object) and the server's error."""

    def __init__(self, message: str, *, code: int = 0) -> None:
        super().__init__(message)
        self.code = code


class _Lane:
    """One table frame's order: its DDL runs after its earlier rows, its rows after its DDL; other
    frames' statements may overlap with it (foreign key checks are off, the tables are new)."""

    def __init__(self) -> None:
        self.pending = 0
        self.idle = threading.Condition()

    def issue(self) -> None:
        with self.idle:
            self.pending += 1

    def done(self) -> None:
        with self.idle:
            self.pending -= 1
            if self.pending == 0:
                self.idle.notify_all()

    def wait_idle(self) -> None:
        with self.idle:
            self.idle.wait_for(lambda: self.pending == 0)


_Item = tuple[Statement, str, _Lane | None]


@dataclass
class _Counters:
    rows: int = 0
    bytes: int = 0
    statements: int = 0


@dataclass
class Loader:
    """A pool of connections to `database` that runs statements as described above."""

    db: DbSettings
    database: str
    jobs: int = 2
    definer: DefinerPolicy = "keep"
    on_rows: Callable[[int, int], None] | None = None  # (rows, bytes) after each row statement
    _conns: list[Any] = field(default_factory=list)
    _threads: list[threading.Thread] = field(default_factory=list)
    _counters: list[_Counters] = field(default_factory=list)
    _failure: LoadError | None = None
    _queue: queue.Queue[_Item | None] = field(default_factory=lambda: queue.Queue(4))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    modes: QuoteModes = field(default_factory=QuoteModes)  # how the next statements quote (see splitter)

    def __post_init__(self) -> None:
        self.jobs = max(1, self.jobs)
        try:
            for _ in range(self.jobs + 1):  # the first runs DDL and session statements, the rest rows
                conn = connect(self.db, database=self.database)
                self._conns.append(conn)
                conn.query(SESSION_SETUP)
        except BaseException:
            self.close()
            raise
        self.rewriter = DefinerRewriter(self.definer, self._current_user())
        self._queue = queue.Queue(2 * self.jobs)
        self._counters = [_Counters() for _ in self._conns]
        for index in range(1, self.jobs + 1):
            thread = threading.Thread(target=self._work, args=(index,), name=f"load-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    # --- the caller's side ------------------------------------------------------------------------

    def run(self, stmt: Statement, where: str, kind: Kind | None = None) -> None:
        """Send one statement. `where` names what it belongs to in messages (a table, a file)."""
        self._raise_failure()
        kind = kind or classify(stmt.sql)
        if kind == "rows":
            self._queue.put((stmt, where, None))
            return
        if kind in ("skip", "use"):
            return
        self.wait()
        self._run_main(stmt, where, self._conns if kind == "session" else self._conns[:1])

    def run_frame(self, statements: Iterable[Statement], where: str) -> None:
        """A table frame: its rows go to the workers while the next frames already start. Its other
        statements run on the first connection only, after its own earlier rows: in a frame they are
        DDL under session settings that the frame itself puts back (rows load in the base session)."""
        lane = _Lane()
        for stmt in statements:
            self._raise_failure()
            kind = classify(stmt.sql)
            if kind == "rows":
                lane.issue()
                self._queue.put((stmt, where, lane))
            elif kind not in ("skip", "use"):
                lane.wait_idle()
                self._raise_failure()
                self._run_main(stmt, where, self._conns[:1])

    def _run_main(self, stmt: Statement, where: str, targets: list[Any]) -> None:
        sql = self.rewriter.rewrite(stmt.sql)
        for conn in targets:
            self._execute(conn, Statement(stmt.number, stmt.line, sql), where, self._counters[0])
        # The server reports sql_mode's quoting in every OK packet: split what follows accordingly.
        status = self._conns[0].server_status or 0
        self.modes.backslash_escapes = not status & SERVER_STATUS_NO_BACKSLASH_ESCAPES
        self.modes.ansi_quotes = bool(status & SERVER_STATUS_ANSI_QUOTES)

    def wait(self) -> None:
        """Until every row statement sent so far is done; raises the first failure."""
        self._queue.join()
        self._raise_failure()

    def execute_once(self, sql: str | bytes, where: str = "restore") -> None:
        """One statement of our own (not from the dump) on the first connection, after a barrier."""
        self.wait()
        data = sql.encode() if isinstance(sql, str) else sql
        self._execute(self._conns[0], Statement(0, 0, data), where, self._counters[0])

    def session_values(self, names: tuple[str, ...]) -> dict[str, str]:
        """The current session variables (the same on every connection: session statements go to all)."""
        self.wait()
        with self._conns[0].cursor() as cur:
            cur.execute("SELECT " + ", ".join(f"@@SESSION.{name}" for name in names))
            row = cur.fetchone()
        return {name: str(value) for name, value in zip(names, row, strict=True)}

    @property
    def rows(self) -> int:
        return sum(c.rows for c in self._counters)

    @property
    def bytes(self) -> int:
        return sum(c.bytes for c in self._counters)

    @property
    def definers_rewritten(self) -> list[str]:
        return list(self.rewriter.rewritten)

    def close(self) -> None:
        """Stop the workers and close every connection (a failed load leaves them mid-way)."""
        if self._threads:
            with self._lock:
                if self._failure is None:
                    self._failure = LoadError("the load was stopped")
            for _ in self._threads:
                try:
                    self._queue.put(None, timeout=1)
                except queue.Full:
                    break
            for thread in self._threads:
                thread.join(timeout=5)
            self._threads.clear()
        for conn in self._conns:
            try:
                conn.close()
            except Exception as exc:  # already gone: nothing left to release
                log.debug("closing a load connection: %s", exc)
        self._conns.clear()

    def __enter__(self) -> Loader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the workers' side ------------------------------------------------------------------------

    def _work(self, index: int) -> None:
        conn, counters = self._conns[index], self._counters[index]
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                stmt, where, lane = item
                try:
                    if self._failure is None:
                        self._execute(conn, stmt, where, counters)
                finally:
                    if lane is not None:
                        lane.done()
            except LoadError as exc:
                with self._lock:
                    if self._failure is None:
                        self._failure = exc
            finally:
                self._queue.task_done()

    def _execute(self, conn: Any, stmt: Statement, where: str, counters: _Counters) -> None:
        for attempt in range(RETRIES + 1):
            try:
                affected = conn.query(stmt.sql)
                break
            except pymysql.err.MySQLError as exc:
                code = exc.args[0] if exc.args else 0
                if code in (ER_LOCK_DEADLOCK, ER_LOCK_WAIT_TIMEOUT) and attempt < RETRIES:
                    continue  # the statement was rolled back whole; run it again
                raise self._error(exc, stmt, where) from None
        counters.statements += 1
        counters.bytes += len(stmt.sql)
        if stmt.sql[:1] in b"IiRr":
            counters.rows += affected
            if self.on_rows is not None:
                self.on_rows(affected, len(stmt.sql))

    def _error(self, exc: pymysql.err.MySQLError, stmt: Statement, where: str) -> LoadError:
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
        message = " ".join(str(exc.args[1] if len(exc.args) > 1 else exc).split())  # one line
        place = f"statement {stmt.number} (line {stmt.line}" + (f", {where})" if where else ")")
        if stmt.number == 0:
            place = where
        hint = definer_error_hint(code, stmt.sql, self.definer)
        return LoadError(f"{place} failed: error {code}: {message}{hint}", code=code)

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    def _current_user(self) -> str:
        with self._conns[0].cursor() as cur:
            cur.execute("SELECT CURRENT_USER()")
            row = cur.fetchone()
        return str(row[0]) if row else ""
