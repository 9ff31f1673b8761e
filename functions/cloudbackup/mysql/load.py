"""Send a stream of statements to the server over several connections.

Row statements (INSERT/REPLACE … VALUES) are independent once their table exists, so they go to the
least busy of `jobs` worker connections: that is how a restore beats the single-threaded mysql client,
even on one big table, and tables overlap. The order that matters is kept:
- session statements (SET, transaction control) run on the first connection at once and join every
  worker's own queue in order, so each connection has the session the dump meant for its rows;
- DDL runs on the first connection after the rows of its own table are done (other tables' rows go
  on); DDL naming no table, and DML other than rows, wait for all rows.
Statements are sent as the dump holds them, never re-encoded; where the server allows LOAD DATA
LOCAL, a row statement whose values both read alike goes as LOAD DATA of its own VALUES list
(mysql/load_data.py), which the server reads faster.

A failure reports the statement's number and line, what it belonged to, and the server's error,
in one line; the loader then stops sending.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

import pymysql

from cloudbackup import stopping
from cloudbackup.dburl import DbSettings
from cloudbackup.errors import OperationError
from cloudbackup.mysql import literals, load_data, sql_modes
from cloudbackup.mysql.connection import connect
from cloudbackup.mysql.connection_slots import spare_connections
from cloudbackup.mysql.definer import DefinerPolicy, DefinerRewriter, definer_error_hint
from cloudbackup.mysql.literals import Kinds
from cloudbackup.mysql.rows import is_generated
from cloudbackup.mysql.server_text import text
from cloudbackup.mysql.session_text import BACKSLASH_UNSAFE_CHARSETS
from cloudbackup.mysql.splitter import QuoteModes, Statement, StatementTooLong

log = logging.getLogger(__name__)

Kind = Literal["rows", "session", "once", "skip", "use"]

# Every connection starts like this; the dump's own header then sets the rest (names, sql_mode, zone).
SESSION_SETUP = (
    "SET SESSION foreign_key_checks = 0, unique_checks = 0, "
    "net_read_timeout = 3600, net_write_timeout = 3600, wait_timeout = 86400"
)
# The session a table must be created in to come out as its dump's DDL says, whatever the server's
# defaults: no invisible `my_row_id` primary key added to a table without one (MySQL's
# sql_generate_invisible_primary_key, ON by default on Azure), and TIMESTAMP columns with only the
# defaults their DDL names (explicit_defaults_for_timestamp OFF adds DEFAULT CURRENT_TIMESTAMP ON UPDATE …).
# And a routine's: MySQL writes `CHARSET utf8mb4` alone where the collation is utf8mb4's own default,
# which a server's default_collation_for_utf8mb4 (a 5.7 compatibility setting) would otherwise replace
# (RETURNS … COLLATE utf8mb4_general_ci). Tables always name their collations: none of them changes.
TABLE_SHAPE = {
    "sql_generate_invisible_primary_key": "OFF",
    "explicit_defaults_for_timestamp": "ON",
    "default_collation_for_utf8mb4": "UTF8MB4_0900_AI_CI",
}
ER_SPECIFIC_ACCESS_DENIED = 1227
ER_LOCK_DEADLOCK = 1213
ER_TOO_LONG_KEY = 1071
ER_INDEX_COLUMN_TOO_LONG = 1709
ER_LOCK_WAIT_TIMEOUT = 1205
ER_TOO_BIG_ROWSIZE = 1118
RETRIES = 3
SERVER_STATUS_IN_TRANS = 0x1
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
_NAME = rb"((?:`(?:[^`]|``)+`|[\w$]+)(?:\s*\.\s*(?:`(?:[^`]|``)+`|[\w$]+))?)"
_ROWS_TABLE = re.compile(
    rb"(?:\s|/\*M?!\d*)*+(?:INSERT|REPLACE)\s+(?:(?:LOW_PRIORITY|DELAYED|HIGH_PRIORITY|IGNORE)\s+)*"
    rb"(?:INTO\s+)?" + _NAME,
    re.IGNORECASE,
)
_DDL_TABLE = re.compile(
    rb"(?:\s|/\*M?!\d*)*+(?:(?:CREATE|ALTER|DROP|TRUNCATE|OPTIMIZE|ANALYZE)\b[^;(]{0,80}?\bTABLE"
    rb"(?:\s+IF\s+(?:NOT\s+)?EXISTS)?|[^;]{0,300}?\bTRIGGER\b[^;]{0,200}?\bON)\s+" + _NAME,
    re.IGNORECASE,
)
_NAME_PARTS = re.compile(rb"`(?:[^`]|``)+`|[\w$]+")
_CLIENT_CHARSET = re.compile(rb"NAMES|CHARACTER|CHARSET", re.IGNORECASE)
_SQL_MODE = re.compile(rb"SQL_MODE", re.IGNORECASE)
_DDL_WORDS = (b"CREATE", b"ALTER", b"DROP", b"TRUNCATE", b"RENAME", b"OPTIMIZE", b"ANALYZE")
_CREATE_TABLE = re.compile(rb"(?:\s|/\*M?!\d*)*+CREATE\s+TABLE\b", re.IGNORECASE)
_PRIMARY_KEY = re.compile(rb"\bPRIMARY\s+KEY\b", re.IGNORECASE)
_TIMESTAMP_COLUMN = re.compile(rb"\stimestamp\b", re.IGNORECASE)  # (a column named `timestamp` is quoted)


def _shape_changed_by(name: str, create_table: bytes) -> bool:
    """Whether TABLE_SHAPE setting `name`, left at the server's value, changes this CREATE TABLE: one
    without a primary key gains `my_row_id`, a TIMESTAMP column gains defaults."""
    if name == "sql_generate_invisible_primary_key":
        return _PRIMARY_KEY.search(create_table) is None
    if name == "explicit_defaults_for_timestamp":
        return _TIMESTAMP_COLUMN.search(create_table) is not None
    return False


def table_of(sql: bytes, kind: Kind) -> bytes | None:
    """The table a row statement fills, or a DDL statement changes (None: another kind, or unknown)."""
    pattern = _ROWS_TABLE if kind == "rows" else _DDL_TABLE
    m = pattern.match(sql, 0, 1024)
    if m is None:
        return None
    name: bytes = _NAME_PARTS.findall(m.group(1))[-1]  # the table itself: `db`.`t` and t are the same lane
    if name.startswith(b"`"):
        name = name[1:-1].replace(b"``", b"`")
    return name.lower()


def is_ddl(sql: bytes) -> bool:
    m = _HEAD.match(sql, 0, 256)
    return m is not None and m.group(1).upper() in _DDL_WORDS


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


class _Pending:
    """Row statements sent and not done yet (of one table, or of all); wait_idle() until none."""

    def __init__(self) -> None:
        self.count = 0
        self.idle = threading.Condition()

    def issue(self) -> None:
        with self.idle:
            self.count += 1

    def done(self) -> None:
        with self.idle:
            self.count -= 1
            if self.count == 0:
                self.idle.notify_all()

    def wait_idle(self) -> None:
        with self.idle:
            stopping.wait_for(self.idle, lambda: self.count == 0)


@dataclass(frozen=True)
class _AsData:
    """How a row statement may go as LOAD DATA: the plan of its table, its head, the LOAD DATA, and its
    literals' kinds if the check before loading proved them."""

    plan: load_data.DataPlan
    head: re.Match[bytes]
    statement: bytes
    kinds: Kinds | None


@dataclass(frozen=True)
class _SessionState:
    """What a session statement left the first connection with: every row connection must match it."""

    sql_mode: str
    charset: str


# (statement, where, the table's pending rows or None for a session statement, how it may go as
# LOAD DATA, or for a session statement the state it must leave); None stops a worker.
_Item = tuple[Statement, str, _Pending | None, _AsData | _SessionState | None]


@dataclass
class _Counters:
    rows: int = 0
    bytes: int = 0
    statements: int = 0
    as_data: int = 0  # row statements sent as LOAD DATA


@dataclass
class Loader:
    """`jobs` worker connections for rows plus one for everything else, all on `database`."""

    db: DbSettings
    database: str
    jobs: int = 2
    definer: DefinerPolicy = "keep"
    modes: QuoteModes = field(default_factory=QuoteModes)  # how the next statements quote (see splitter)
    rows_as_data: bool = True  # row statements as LOAD DATA LOCAL where the server allows it
    _conns: list[Any] = field(default_factory=list)
    _queues: list[queue.Queue[_Item | None]] = field(default_factory=list)
    _threads: list[threading.Thread] = field(default_factory=list)
    _counters: list[_Counters] = field(default_factory=list)
    _tables: dict[bytes, _Pending] = field(default_factory=dict)
    _all: _Pending = field(default_factory=_Pending)
    _failure: LoadError | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _plans: dict[bytes, load_data.DataPlan | None] = field(default_factory=dict)  # by statement head
    _charset: str = "utf8mb4"  # the session's character_set_client (connect() sets utf8mb4)
    _serial_auto_increment: bool = False  # LOAD DATA into a table with AUTO_INCREMENT would not overlap
    _max_packet: int = 0  # the server's max_allowed_packet for these sessions
    defers_indexes: bool = True  # secondary indexes may be built after the rows (see __post_init__)
    _row_format: str = "dynamic"  # the server's innodb_default_row_format (lower case)
    # TABLE_SHAPE settings this account could not set for its session: {name: the server's value}
    _unkept_shape: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.jobs = max(1, self.jobs)
        try:
            # The first runs DDL and session statements; then the row connections, as many as fit.
            self._open(0)
            self._leave_slots_free(self._conns[0])
            for index in range(1, self.jobs + 1):
                self._open(index)
        except BaseException:
            self.close()
            raise
        user, version = self._server()
        self.rewriter = DefinerRewriter(self.definer, user)
        self.to_mysql = "mariadb" not in version.lower()
        # Quotes read as the session's sql_mode says from the start (the server's default may hold
        # ANSI_QUOTES, which MySQL reports in no status flag), as the check before loading reads them.
        self.modes.follow(self.session_values(("sql_mode",))["sql_mode"])
        settings = data_settings(self._conns[0])
        self.rows_as_data = self.rows_as_data and settings.local_infile
        self._serial_auto_increment = self.jobs > 1 and not settings.loads_overlap
        self._max_packet = settings.max_allowed_packet
        # MySQL writes `TABLESPACE innodb_system` into a table of the system tablespace (where
        # innodb_file_per_table is OFF puts new tables) once an ALTER adds an index or a foreign key to
        # it: its SHOW CREATE would change, so there a table is created with all of them at once.
        self.defers_indexes = not (self.to_mysql and not settings.file_per_table)
        self._row_format = settings.row_format
        self._counters = [_Counters() for _ in self._conns]
        for index in range(1, self.jobs + 1):
            self._queues.append(queue.Queue(2))
            thread = threading.Thread(target=self._work, args=(index,), name=f"load-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _open(self, index: int) -> None:
        conn = connect(self.db, database=self.database, local_files=self.rows_as_data and index > 0)
        self._conns.append(conn)
        conn.query(SESSION_SETUP)
        unkept = keep_table_shape(conn)
        if index == 0:  # the connection every CREATE TABLE runs on
            self._unkept_shape = unkept

    def _leave_slots_free(self, conn: Any) -> None:
        """Fewer row connections than asked where the server has few slots to spare (connection_slots);
        one at least, which the restore needs."""
        with conn.cursor() as cur:
            spare = spare_connections(cur, self.jobs)
        if spare < self.jobs:
            log.warning(
                "loading on %d connection(s) of the %d asked for: the server's last slots stay free",
                max(1, spare),
                self.jobs,
            )
            self.jobs = max(1, spare)

    # --- the caller's side ------------------------------------------------------------------------

    def run(
        self, stmt: Statement, where: str, kind: Kind | None = None, literal_kinds: Kinds | None = None
    ) -> None:
        """Send one statement. `where` names what it belongs to in messages (a table, a file);
        `literal_kinds`, of a row statement, what the check before loading proved of its values."""
        self._raise_failure()
        kind = kind or classify(stmt.sql)
        if kind == "rows":
            pending = self._tables.setdefault(table_of(stmt.sql, kind) or b"", _Pending())
            pending.issue()
            self._all.issue()
            data = self._as_data(stmt, literal_kinds)
            stopping.put(min(self._queues, key=lambda q: q.qsize()), (stmt, where, pending, data))
            return
        if kind in ("skip", "use"):
            return
        if kind == "session":
            if self.to_mysql:  # a MariaDB backup's sql_mode may name modes MySQL no longer has
                stmt = Statement(stmt.number, stmt.line, sql_modes.for_mysql(stmt.sql))
            self._run_main(stmt, where)
            reads_quotes = bool(_SQL_MODE.search(stmt.sql) or _CLIENT_CHARSET.search(stmt.sql))
            if _SQL_MODE.search(stmt.sql):
                # MariaDB's sql_mode MSSQL quotes names in brackets, and MySQL's ANSI_QUOTES quotes them in
                # "…", which no status flag reports: read from the sql_mode the server now has.
                self.modes.follow(self.session_values(("sql_mode",))["sql_mode"])
            if _CLIENT_CHARSET.search(stmt.sql):
                self._charset = self.session_values(("character_set_client",))["character_set_client"]
                if self._charset in BACKSLASH_UNSAFE_CHARSETS:  # (the check refuses it before loading)
                    raise LoadError(
                        f"{_place(stmt, where)} set the client character set to {self._charset}, where a "
                        "backslash can end a character: the check read its statements otherwise; stopped"
                    )
            # (A row connection may read the same SET otherwise: a trigger fired by its rows may have
            # changed the user variable the SET reads, and the check reads rows as the first reads them.)
            expected = self._session_state() if reads_quotes else None
            for q in self._queues:
                stopping.put(q, (stmt, where, None, expected))
            return
        ddl = is_ddl(stmt.sql)
        if ddl:
            self._plans.clear()  # a table's columns may change
        table = table_of(stmt.sql, kind) if ddl else None
        if table is not None:
            self._tables.get(table, _Pending()).wait_idle()  # its own rows first; others go on
        else:
            self._all.wait_idle()
        self._raise_failure()
        if self._unkept_shape:
            self._refuse_unkept_shape(stmt, where)
        self._run_main(stmt, where)

    def run_parallel(self, stmt: Statement, where: str) -> None:
        """Send a statement that may run beside the others on a worker connection (an index build of a
        loaded table): the caller waits for it with wait()."""
        self._raise_failure()
        own = _Pending()  # a table of its own: the worker marks it (and all) done
        own.issue()
        self._all.issue()
        stopping.put(min(self._queues, key=lambda q: q.qsize()), (stmt, where, own, None))

    def wait(self) -> None:
        """Until every statement sent so far is done; raises the first failure."""
        for q in self._queues:
            stopping.join(q)
        self._raise_failure()

    def session_values(self, names: tuple[str, ...]) -> dict[str, str]:
        """The session's variables now (the first connection has every session statement so far)."""
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
    def statements_as_data(self) -> int:
        """Row statements sent as LOAD DATA so far."""
        return sum(c.as_data for c in self._counters)

    @property
    def definers_rewritten(self) -> list[str]:
        return list(self.rewriter.rewritten)

    def close(self) -> None:
        """Stop the workers and close every connection (a failed load leaves them mid-way)."""
        if self._threads:
            with self._lock:
                if self._failure is None:
                    self._failure = LoadError("the load was stopped")
            for q in self._queues:
                try:
                    q.put(None, timeout=5)
                except queue.Full:
                    continue
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

    # --- the connections' side --------------------------------------------------------------------

    def _run_main(self, stmt: Statement, where: str) -> None:
        sql = self.rewriter.rewrite(stmt.sql)
        self._execute(self._conns[0], Statement(stmt.number, stmt.line, sql), where, self._counters[0])
        # The server reports sql_mode's quoting in every OK packet: split what follows accordingly.
        # (MySQL's has no ANSI_QUOTES flag: there it stays as the session's sql_mode was last read.)
        status = self._conns[0].server_status or 0
        self.modes.backslash_escapes = not status & SERVER_STATUS_NO_BACKSLASH_ESCAPES
        if not self.to_mysql:
            self.modes.ansi_quotes = bool(status & SERVER_STATUS_ANSI_QUOTES)

    def _work(self, index: int) -> None:
        conn, counters, own = self._conns[index], self._counters[index], self._queues[index - 1]
        while True:
            item = own.get()
            try:
                if item is None:
                    return
                stmt, where, pending, data = item
                try:
                    if self._failure is None:
                        if isinstance(data, _SessionState):
                            self._execute(conn, stmt, where, counters)
                            self._same_session(conn, data, stmt, where)
                        else:
                            self._execute(conn, stmt, where, counters, data)
                        if pending is not None and conn.server_status & SERVER_STATUS_IN_TRANS:
                            # A dump written with autocommit off (--no-autocommit) commits a table's
                            # rows after its ALTER … ENABLE KEYS, which the first connection runs: rows
                            # left open here would hold the table's metadata lock against that ALTER
                            # for ever. Each row statement is its own transaction, as a retry after a
                            # deadlock needs (it runs the one statement again, not those before it).
                            conn.commit()
                finally:
                    if pending is not None:
                        pending.done()
                        self._all.done()
            except Exception as exc:  # any failure stops the load (a dead worker would hang it)
                failure = exc if isinstance(exc, LoadError) else LoadError(f"the load failed: {exc}")
                with self._lock:
                    if self._failure is None:
                        self._failure = failure
            finally:
                own.task_done()

    def _session_state(self) -> _SessionState:
        values = self.session_values(("sql_mode", "character_set_client"))
        return _SessionState(values["sql_mode"], values["character_set_client"])

    @staticmethod
    def _same_session(conn: Any, expected: _SessionState, stmt: Statement, where: str) -> None:
        """Stop unless a row connection reads quotes and bytes as the first one does after `stmt`."""
        with conn.cursor() as cur:
            cur.execute("SELECT @@SESSION.sql_mode, @@SESSION.character_set_client")
            found = _SessionState(*(str(value) for value in cur.fetchone()))
        if found != expected:
            raise LoadError(
                f"{_place(stmt, where)} set sql_mode {found.sql_mode!r} and client character set "
                f"{found.charset} on a row connection, where the check read {expected.sql_mode!r} and "
                f"{expected.charset} (a trigger changed a variable the statement reads); stopped"
            )

    def _execute(
        self, conn: Any, stmt: Statement, where: str, counters: _Counters, data: _AsData | None = None
    ) -> None:
        relaxed: bool | None = None  # innodb_strict_mode turned off for this statement (None: not tried)
        try:
            for attempt in range(RETRIES + 1):
                try:
                    sent = self._send_as_data(conn, stmt, where, data) if data else None
                    if sent is None:
                        self._refuse_oversized(stmt, where)
                    affected: int = conn.query(stmt.sql) if sent is None else sent
                    counters.as_data += sent is not None
                    break
                except pymysql.err.MySQLError as exc:
                    code = exc.args[0] if exc.args else 0
                    if code in (ER_LOCK_DEADLOCK, ER_LOCK_WAIT_TIMEOUT) and attempt < RETRIES:
                        continue  # the statement was rolled back whole; run it again
                    if code == ER_TOO_BIG_ROWSIZE and relaxed is None and is_ddl(stmt.sql):
                        relaxed = relax_strict_mode(conn)
                        if relaxed:
                            continue
                    raise self._error(exc, stmt, where, strict_kept=relaxed is False) from None
        finally:
            if relaxed:
                conn.query("SET SESSION innodb_strict_mode = DEFAULT")
        counters.statements += 1
        counters.bytes += len(stmt.sql)
        if stmt.sql[:1] in b"IiRr":
            counters.rows += affected

    def _as_data(self, stmt: Statement, kinds: Kinds | None) -> _AsData | None:
        """How a row statement may go as LOAD DATA, if the server allows it and its table's columns
        are of types both statements read alike. Its rows are matched on the worker, which overlaps
        the other workers' waits better than one more step in the thread that feeds them all."""
        if not self.rows_as_data or not self.modes.backslash_escapes:
            return None
        head = literals.head(stmt.sql)
        if head is None or not load_data.valid_charset(self._charset):
            return None
        if not (self._charset.startswith("utf8") or head.group(0).isascii()):
            return None  # names in another character set: the plan reads them as UTF-8
        key = head.group(0)
        if key not in self._plans:
            columns = _table_columns(self._conns[0], head)
            serial = self._serial_auto_increment and any(c.auto_increment for c in columns)
            self._plans[key] = None if serial else load_data.plan(head, columns)
        plan = self._plans[key]
        return _AsData(plan, head, plan.load_statement(self._charset), kinds) if plan is not None else None

    def _send_as_data(self, conn: Any, stmt: Statement, where: str, data: _AsData) -> int | None:
        """The statement's rows as LOAD DATA: rows affected; None if they go as the INSERT instead."""
        rows = load_data.body(stmt.sql, data.head, data.plan, data.kinds)
        if rows is None or not self.rows_as_data:
            return None
        try:
            affected, warnings = load_data.send(conn, data.statement, rows)
        except pymysql.err.MySQLError as exc:
            if exc.args and exc.args[0] in load_data.REFUSED:  # LOCAL is off: nothing was loaded
                self.rows_as_data = False
                return None
            raise
        except load_data.NotAsked as exc:
            raise LoadError(f"{_place(stmt, where)} failed: {exc}") from None
        if warnings:
            warning = _first_warning(conn)
            if warning is not None:
                raise LoadError(
                    f"{_place(stmt, where)} failed: its rows, sent as LOAD DATA, gave {warning}; "
                    "a value the server changes would not be the backup's"
                )
        return affected

    def _refuse_oversized(self, stmt: Statement, where: str) -> None:
        """A statement the server would not take: said here, where MySQL would only drop the connection
        ("server has gone away"). The dump sized its statements under the source's limit, not this one."""
        size = len(stmt.sql) + 1  # the command packet: one byte, then the statement
        if self._max_packet and size > self._max_packet:
            raise LoadError(
                f"{_place(stmt, where)} is {size:,} bytes, more than the server's max_allowed_packet "
                f"({self._max_packet:,} bytes): raise max_allowed_packet to at least {size:,} "
                "(RDS: in the DB parameter group), then restore again"
            )

    @property
    def max_statement_bytes(self) -> int | None:
        """The longest statement the server takes (the command packet is one byte more); None: not known."""
        return longest_statement(self._max_packet) if self._max_packet else None

    def _refuse_unkept_shape(self, stmt: Statement, where: str) -> None:
        """A CREATE TABLE the server would give another shape than the dump's, where this account could
        not set the session back (keep_table_shape): refused before it runs, target untouched."""
        reason = unkept_shape_change(self._unkept_shape, stmt.sql, "as backed up")
        if reason:
            raise LoadError(f"{_place(stmt, where)}: {reason}")

    def _error(
        self, exc: pymysql.err.MySQLError, stmt: Statement, where: str, *, strict_kept: bool = False
    ) -> LoadError:
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
        message = " ".join(str(exc.args[1] if len(exc.args) > 1 else exc).split())  # one line
        hint = definer_error_hint(code, stmt.sql, self.definer) or self._row_format_hint(code)
        if strict_kept:
            hint = STRICT_MODE_HINT
        return LoadError(f"{_place(stmt, where)} failed: error {code}: {message}{hint}", code=code)

    def _row_format_hint(self, code: int) -> str:
        """Why an index the source had is too long here: a table that names no ROW_FORMAT takes the
        server's default, and COMPACT or REDUNDANT allow index keys of 767 bytes where DYNAMIC allows 3072."""
        if code not in (ER_TOO_LONG_KEY, ER_INDEX_COLUMN_TOO_LONG) or self._row_format not in (
            "compact",
            "redundant",
        ):
            return ""
        return (
            f" (the server's innodb_default_row_format is {self._row_format.upper()}, which limits an "
            "index key to 767 bytes: set it to DYNAMIC, the default (RDS: in the parameter group), "
            "then restore again)"
        )

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    def _server(self) -> tuple[str, str]:
        """The account the load runs as, and the server's version."""
        with self._conns[0].cursor() as cur:
            cur.execute("SELECT CURRENT_USER(), VERSION()")
            user, version = cur.fetchone()
        return str(user), str(version)


# A table whose rows may outgrow a page: the source made it with innodb_strict_mode OFF (a warning
# then), which a server as shipped (ON) refuses. Made as it was, under OFF for that statement only.
STRICT_MODE_HINT = (
    " (the source made this table with innodb_strict_mode OFF; this account may not turn it off for its "
    "session: grant it SESSION_VARIABLES_ADMIN, or set innodb_strict_mode=OFF on the server (RDS: in the "
    "DB parameter group), then restore again)"
)


def relax_strict_mode(conn: Any) -> bool:
    """Turn innodb_strict_mode off for the session, where the account may (MySQL: SESSION_VARIABLES_ADMIN)."""
    try:
        conn.query("SET SESSION innodb_strict_mode = OFF")
    except pymysql.err.MySQLError as exc:
        if not exc.args or exc.args[0] != ER_SPECIFIC_ACCESS_DENIED:
            raise
        return False
    return True


def unkept_shape_change(unkept: dict[str, str], sql: bytes, was: str) -> str:
    """Why this statement would not create its table as written, in one line ("" when it would): a
    CREATE TABLE that a TABLE_SHAPE setting this account could not set for its session
    (keep_table_shape) would change. `was`: how the table should come back ("as backed up")."""
    if not unkept or not _CREATE_TABLE.match(sql):
        return ""
    for name, value in unkept.items():
        if _shape_changed_by(name, sql):
            wanted = TABLE_SHAPE[name]
            return (
                f"the server's {name} is {value} and this account may not set it to {wanted} for its "
                f"session (it needs SESSION_VARIABLES_ADMIN): the table would not come back {was}; "
                f"grant that, or set {name} = {wanted} on the server, then restore again"
            )
    return ""


def keep_table_shape(conn: Any) -> dict[str, str]:
    """Set the session's TABLE_SHAPE where the server's defaults differ; returns those this account may
    not set (MySQL: SESSION_VARIABLES_ADMIN), with the server's value. Only a table they would change
    is then refused (Loader._refuse_unkept_shape): most backups have none."""
    names = ", ".join(f"'{name}'" for name in TABLE_SHAPE)
    unkept: dict[str, str] = {}
    with conn.cursor() as cur:
        cur.execute(f"SHOW SESSION VARIABLES WHERE Variable_name IN ({names})")
        current = [(text(name), text(value)) for name, value in cur.fetchall()]
        for name, value in current:
            wanted = TABLE_SHAPE[name]
            if value.upper() == wanted:
                continue
            try:
                cur.execute(f"SET SESSION {name} = {wanted}")
            except pymysql.err.OperationalError as exc:
                if not exc.args or exc.args[0] != ER_SPECIFIC_ACCESS_DENIED:
                    raise
                unkept[name] = value
    return unkept


@dataclass(frozen=True)
class DataSettings:
    """What decides, on a server, which row statements go as LOAD DATA (the benchmark prints it too)."""

    local_infile: bool  # the server takes LOAD DATA LOCAL
    autoinc_lock_mode: int
    max_allowed_packet: int = 0  # the largest statement the session takes (0: not known)
    file_per_table: bool = True  # new InnoDB tables get their own tablespace (not the system one)
    row_format: str = "dynamic"  # what a new InnoDB table that names no ROW_FORMAT gets

    @property
    def loads_overlap(self) -> bool:
        """Whether LOAD DATA statements into one table with AUTO_INCREMENT run beside each other. Below
        lock mode 2 (MariaDB's default, MySQL 5.7's) each holds the table's AUTO-INC lock to its end,
        so they would load one after the other where INSERTs overlap: measured on MariaDB, 2
        connections of LOAD DATA took 4.8 s against 4.5 s of INSERTs (1M rows)."""
        return self.autoinc_lock_mode == 2


def data_settings(conn: Any) -> DataSettings:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT @@GLOBAL.local_infile, @@GLOBAL.innodb_autoinc_lock_mode, @@SESSION.max_allowed_packet, "
            "@@GLOBAL.innodb_file_per_table, @@GLOBAL.innodb_default_row_format"
        )
        local_infile, lock_mode, max_packet, file_per_table, row_format = cur.fetchone()
    return DataSettings(
        str(local_infile) in ("1", "ON"),
        int(lock_mode),
        int(max_packet),
        str(file_per_table) in ("1", "ON"),
        str(row_format).lower(),
    )


def longest_statement(max_allowed_packet: int) -> int:
    """The longest statement a server with this max_allowed_packet takes: the command packet is one byte,
    then the statement."""
    return max_allowed_packet - 1


def too_long(exc: StatementTooLong, where: str) -> LoadError:
    """The one line for a statement longer than the server's max_allowed_packet takes, found while it was
    being read (the splitter stops there, so a crafted endless statement never fills the memory)."""
    return LoadError(
        f"{where}: statement {exc.number} (line {exc.line}) is longer than the server's max_allowed_packet "
        f"({exc.limit + 1:,} bytes) and could never load: if it is meant to be this "
        "long, raise max_allowed_packet (RDS: in the DB parameter group), then restore again"
    )


def _place(stmt: Statement, where: str) -> str:
    """How a failure names its statement: number, line and what it belongs to."""
    if stmt.number == 0:  # one of ours (an index build): `where` says what
        return where
    return f"statement {stmt.number} (line {stmt.line}" + (f", {where})" if where else ")")


def _first_warning(conn: Any) -> str | None:
    """The first warning (not note) the last statement on `conn` gave, in words."""
    with conn.cursor() as cur:
        cur.execute("SHOW WARNINGS LIMIT 10")
        for level, code, message in cur.fetchall():
            if text(level) != "Note":
                return f"warning {code}: {' '.join(text(message).split())}"
    return None


def _table_columns(conn: Any, head: re.Match[bytes]) -> list[load_data.ColumnType]:
    """The columns of the table a row statement with this head fills, as the server has them now."""
    name = load_data.table_name(head)
    if name is None:
        return []
    with conn.cursor() as cur:
        cur.execute(
            "SELECT COLUMN_NAME, DATA_TYPE, CHARACTER_SET_NAME, EXTRA FROM information_schema.COLUMNS"
            " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
            (name,),
        )
        return [
            load_data.ColumnType(
                name=text(c),
                data_type=text(t).lower(),
                charset=cs and text(cs),
                auto_increment="auto_increment" in text(e).lower(),
                implicit="invisible" not in text(e).lower(),
                generated=is_generated(text(e)),
            )
            for c, t, cs, e in cur.fetchall()
        ]
