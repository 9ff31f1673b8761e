"""Feed a dump's statements to the loader, as a restore must.

Numbers statements across frames (errors name the statement), checks each against the restore's
confinement (confine/check.py) before it is sent, holds back CREATE EVENT (an event would fire in the
staging database; it is created in the target with the session it was to run in), and skips USE /
CREATE DATABASE / DROP DATABASE of the source, noting its name and character set.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator

from cloudbackup.confine.check import Confinement
from cloudbackup.confine.event_status import creates_disabled
from cloudbackup.mysql.deferred_indexes import DeferredTable, defer_indexes
from cloudbackup.mysql.load import Loader, LoadError, classify, is_ddl, table_of, too_long
from cloudbackup.mysql.session_text import stored_program, with_session
from cloudbackup.mysql.splitter import Statement, StatementTooLong, split_statements
from cloudbackup.progress import Progress

EVENT_SESSION = ("sql_mode", "time_zone", "character_set_client", "collation_connection")
# The CREATE EVENT statements (with their session) held back in memory until the tables are published
# come to at most this: a database's events are a handful of short definitions (~1 KB each here), but a
# few KB of zstd can hold millions of them, and memory would grow with each. Far above any real one.
HELD_EVENTS_MAX_BYTES = 16 << 20
_CODE = rb"(?:\s|/\*M?!\d*|\*/)"
_CREATE_EVENT = re.compile(
    _CODE
    + rb"*(?:EXECUTE\s+IMMEDIATE\s+')?CREATE"
    + _CODE
    + rb"+(?:DEFINER\s*=\s*(?:`[^`]*`|'[^']*'|[^\s@*]+)\s*@\s*"
    rb"(?:`[^`]*`|'[^']*'|[^\s*]+)" + _CODE + rb"+)?EVENT\b",
    re.IGNORECASE,
)
# The status clause of an event as SHOW CREATE EVENT writes it, after its schedule (only quoted literals
# there) and ON COMPLETION: what a copy that must never fire rewrites to DISABLE.
_EVENT_STATUS = re.compile(
    rb"(\bEVENT\s+`(?:[^`]|``)*`\s+ON\s+SCHEDULE\s(?:[^'`]|'(?:[^'\\]|\\.|'')*')*?"
    rb"\sON\s+COMPLETION\s+(?:NOT\s+)?PRESERVE\s+)(?:ENABLE|DISABLE\s+ON\s+(?:SLAVE|REPLICA)|DISABLE)\b",
    re.IGNORECASE | re.DOTALL,
)
_CHARSET = re.compile(rb"CHARACTER\s+SET\s*=?\s*(\w+)", re.IGNORECASE)
_COLLATE = re.compile(rb"COLLATE\s*=?\s*(\w+)", re.IGNORECASE)


def events_disabled(sql: bytes) -> bytes:
    """`sql` with every event's status clause (as SHOW CREATE EVENT writes it) made DISABLE."""
    return _EVENT_STATUS.sub(rb"\1DISABLE", sql)


class StatementFeed:
    """Feeds statements to the loader: numbers them across frames, holds back CREATE EVENT (an event
    would fire in staging) with the session it was to run in, and checks USE/CREATE DATABASE."""

    def __init__(
        self,
        loader: Loader,
        confinement: Confinement,
        *,
        progress: Progress,
        schema_only: bool = False,
        defer_indexes: bool = True,
        check: Callable[[], None] | None = None,
        events_disabled: bool = False,
    ) -> None:
        self.loader = loader
        # Events are created DISABLED (a drill's copy): enabled, the server's event scheduler could fire
        # one between its CREATE and any later ALTER EVENT, in the copy or wherever its body writes.
        self.events_disabled = events_disabled
        # Called before each statement is sent and before each deferred index is built: it may raise
        # to stop the load there (a caller's stop), between statements and never inside one.
        self.check = check or (lambda: None)
        self.confinement = confinement
        self.schema_only = schema_only  # rows (INSERT … VALUES) are skipped: definitions only
        self.where = confinement.where
        self.progress = progress
        self.source_database: str | None = None
        self.database_charset: tuple[str, str] | None = None
        self.events: list[bytes] = []
        self._held = 0  # bytes in self.events
        self.next_number = 1
        self.kind = ""
        self._rows_shown = 0
        self._bytes_shown = 0
        self.defer_indexes = defer_indexes and loader.defers_indexes
        self.deferred: dict[bytes, DeferredTable] = {}  # by lower-cased table name

    @property
    def events_sql(self) -> bytes:
        return b"".join(self.events)

    def load(self, sql_chunks: Iterable[bytes], label: str) -> None:
        where = f"{self.where}, {label}" if label else self.where
        statements = split_statements(
            sql_chunks,
            first_number=self.next_number,
            modes=self.loader.modes,
            known=self.confinement.knows,
            max_statement_bytes=self.loader.max_statement_bytes,
        )
        kind, _, name = label.partition(" ")
        if kind == "table":
            self.progress.current(name)
        if kind != self.kind:
            self.loader.wait()  # sequences before tables, all tables before routines and views
            self.kind = kind
        try:
            for stmt in self._numbered(statements):
                self.check()
                self._one(stmt, where)  # tables overlap: the loader keeps each table's own order
        except StatementTooLong as exc:
            raise too_long(exc, where) from None
        if kind == "table":
            self._show(tables=1)

    def _numbered(self, statements: Iterable[Statement]) -> Iterator[Statement]:
        for stmt in statements:
            self.next_number = stmt.number + 1
            yield stmt

    def _one(self, stmt: Statement, where: str) -> None:
        stmt = self.confinement.unqualified(stmt)
        verdict = self.confinement.check(stmt)
        if verdict == "database":
            self._database_statement(stmt)
        if verdict != "run":
            return
        kind = classify(stmt.sql)
        if kind == "rows" and self.schema_only:
            return
        # (The check read the statement as the server does: an event is held back whatever comments
        # stand between its CREATE and EVENT.)
        if kind == "once" and (self.confinement.created_event or _CREATE_EVENT.match(stmt.sql)):
            settings = self.loader.session_values(EVENT_SESSION)
            settings["character_set_results"] = settings["character_set_client"]
            sql = self.loader.rewriter.rewrite(stmt.sql)
            if self.events_disabled:
                sql = events_disabled(sql)
                if not creates_disabled(sql, self.confinement):
                    raise LoadError(
                        f"{where}: statement {stmt.number} (line {stmt.line}) creates an event whose status "
                        "is not written where SHOW CREATE EVENT writes it, so it cannot be created DISABLED "
                        "as this copy's events must be; it was not created"
                    )
            self.events.append(with_session(settings, stored_program(sql)))
            self._held += len(self.events[-1])
            if self._held > HELD_EVENTS_MAX_BYTES:
                raise LoadError(
                    f"{self.where}: its CREATE EVENT statements (up to statement {stmt.number}, line "
                    f"{stmt.line}), held back until the tables are published, come to more than "
                    f"{HELD_EVENTS_MAX_BYTES:,} bytes, more than any database's events: refused"
                )
            return
        if kind == "once" and self.deferred and is_ddl(stmt.sql):
            self._build_before(stmt)
        if kind == "once" and self.defer_indexes:
            stmt = self._defer(stmt)
        self.loader.run(stmt, where, kind, self.confinement.last_row_kinds if kind == "rows" else None)
        if kind == "rows" and stmt.number % 64 == 0:
            self._show()

    def finish(self) -> None:
        """Wait for every statement, then add the deferred indexes: each table's in one ALTER, tables in
        parallel over the loader's connections; then the foreign keys, which need both sides' indexes."""
        self.loader.wait()
        tables, self.deferred = list(self.deferred.values()), {}
        for statements in (
            [t.index_statement() for t in tables],
            [t.foreign_key_statement() for t in tables],
        ):
            for table, sql in zip(tables, statements, strict=True):
                if sql is not None:
                    self.check()
                    self.loader.run_parallel(
                        Statement(0, 0, sql), f"{self.where}, indexes of table {_name(table)}"
                    )
            self.loader.wait()

    def _defer(self, stmt: Statement) -> Statement:
        deferred = defer_indexes(stmt.sql)
        if deferred is None:
            return stmt
        self.deferred[_key(deferred.table)] = deferred
        return Statement(stmt.number, stmt.line, deferred.create)

    def _build_before(self, stmt: Statement) -> None:
        """A later DDL statement on a table whose indexes wait (ALTER, DROP, RENAME…: not in our dumps,
        possible in another tool's) gets the table as the source had it first."""
        name = table_of(stmt.sql, "once")
        table = self.deferred.get(name or b"")
        if table is None or re.match(
            rb"\s*CREATE\b[^;]*?\bTRIGGER\b", stmt.sql[:512], re.IGNORECASE | re.DOTALL
        ):
            return
        del self.deferred[_key(table.table)]
        for sql in (table.index_statement(), table.foreign_key_statement()):
            if sql is not None:
                self.loader.run(Statement(0, 0, sql), f"{self.where}, indexes of table {_name(table)}")

    def _database_statement(self, stmt: Statement) -> None:
        """USE / CREATE DATABASE / DROP DATABASE name the source: skipped, as the target is ours."""
        self.source_database = self.confinement.source
        charset, collate = _CHARSET.search(stmt.sql, 0, 512), _COLLATE.search(stmt.sql, 0, 512)
        if charset and collate:
            self.database_charset = (charset.group(1).decode(), collate.group(1).decode())

    def _show(self, tables: int = 0) -> None:
        rows, size = self.loader.rows, self.loader.bytes
        self.progress.add(tables=tables, rows=rows - self._rows_shown, bytes=size - self._bytes_shown)
        self._rows_shown, self._bytes_shown = rows, size


def _key(quoted: bytes) -> bytes:
    """How the loader names a table (table_of): unquoted, lower case."""
    return quoted[1:-1].replace(b"``", b"`").lower()


def _name(table: DeferredTable) -> str:
    return table.table.decode("utf-8", "replace")
