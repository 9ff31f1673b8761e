"""Apply one database's archived events to another database, as mysqlbinlog | mysql would, but exactly.

Row events go back to the server as `BINLOG '<base64>'` statements (the file's Format_description
first, then each statement's Table_map and rows events): the server applies them as a replica does,
so values stay bit-exact and triggers do not fire again (the rows already hold what they did). Each
Table_map names the target instead of the source; events of other databases are left out (and the
statement end moved onto the last kept rows event). DDL whose default database is the source runs
in the target with the session settings it was logged with, and with the loader's table shape
(load.keep_table_shape: no invisible primary key added, no TIMESTAMP defaults added); event DDL is
held back (held_events) to run where the restore publishes, as the backup's events are. Transactions
are applied whole: one that commits at or after the stop time ends the replay, before any of it is sent
where its GTID event says when it commits (else it is rolled back at its end).
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pymysql
from pymysql.converters import escape_string

from cloudbackup.binlog import events as ev
from cloudbackup.binlog.event_status import read_event_statement
from cloudbackup.binlog.segments import SegmentIndex
from cloudbackup.binlog.stamp_order import StampOrder
from cloudbackup.binlog.statements import changes_rows, event_change, source_defaults_change, statement_kind
from cloudbackup.confine.check import Confinement
from cloudbackup.dburl import DbSettings
from cloudbackup.errors import IntegrityError, OperationError
from cloudbackup.mysql.connection import connect
from cloudbackup.mysql.identifiers import quote_identifier
from cloudbackup.mysql.load import (
    ER_TOO_BIG_ROWSIZE,
    STRICT_MODE_HINT,
    is_ddl,
    keep_table_shape,
    relax_strict_mode,
    unkept_shape_change,
)
from cloudbackup.mysql.qualifiers import names_database, renamed_qualifiers
from cloudbackup.mysql.session_text import BACKSLASH_UNSAFE_CHARSETS, stored_program, with_session
from cloudbackup.mysql.splitter import QuoteModes
from cloudbackup.mysql.staging import MARK
from cloudbackup.storage.base import Sha256Counter, Storage

_TRANSACTION_CONTROL = {b"BEGIN": "begin", b"COMMIT": "commit", b"ROLLBACK": "rollback"}
# MySQL's atomic CREATE TABLE … SELECT: the statement opens the transaction its rows come in.
_ATOMIC_CREATE_SELECT = re.compile(rb"\bSTART\s+TRANSACTION\s*$", re.I)
# XA START / END / PREPARE / COMMIT / ROLLBACK: a prepared transaction commits in a later one.
_XA = re.compile(rb"\s*XA\s", re.I)
# What a table the binlog creates without ENGINE is made: both servers' own default_storage_engine.
REPLAY_ENGINE = "InnoDB"
# The NO_BACKSLASH_ESCAPES bit of a Query event's sql_mode (the same on MySQL and MariaDB).
_NO_BACKSLASH_ESCAPES = 1 << 21
ER_TABLE_WITHOUT_PK = 3750  # MySQL's sql_require_primary_key refused a CREATE or ALTER TABLE


@dataclass
class ReplayStats:
    events: int = 0  # events of the database applied (row events and DDL)
    statements: int = 0
    transactions: int = 0
    stopped_at: str | None = None  # file:pos of the first event not applied (the stop time's)


def segment_events(store: Storage, segment: SegmentIndex) -> Iterator[ev.Event]:
    """The segment's events; its SHA-256 must match the index (checked when the last byte is read)."""
    digest = hashlib.sha256()
    rest = b""
    read = 0
    for chunk in store.iter_range(segment.key):
        digest.update(chunk)
        try:
            events, rest = ev.split_events(rest + chunk)
        except ValueError:  # (the length of a rewritten event: the segment's SHA-256 made to match)
            raise IntegrityError(
                f"binlog segment {store.location(segment.key)} cannot be read: the event after its first "
                f"{read} claims fewer bytes than an event header; nothing was published"
            ) from None
        read += len(events)
        yield from events
    if rest or digest.hexdigest() != segment.sha256:
        raise IntegrityError(
            f"binlog segment {store.location(segment.key)} does not match its index (SHA-256 or length)"
        )


def verify_segment(store: Storage, segment: SegmentIndex) -> None:
    """Read a whole segment and check it against its index, before any of it is replayed: a replay
    stops inside the segment holding its stop time, so segment_events' own check at the end would
    never run there, and damaged events would be applied (a changed value, a cut length)."""
    read = Sha256Counter()
    for chunk in store.iter_range(segment.key):
        read.update(chunk)
    if read.size != segment.size or read.hexdigest() != segment.sha256:
        raise IntegrityError(
            f"binlog segment {store.location(segment.key)} does not match its index (SHA-256 or length): "
            "nothing was replayed"
        )


class Replayer:
    def __init__(
        self, db: DbSettings, source: str, target: str, stop_at: datetime, published_as: str | None = None
    ) -> None:
        self.source, self.target = source, target
        self.published_as = published_as or target  # where held-back event DDL will run
        # CREATE/ALTER/DROP EVENT, as a script for the published database: an event created in
        # staging would fire there while the replay runs, and the backup's events are not in staging.
        self.held: list[tuple[str, str, bytes]] = []  # (event name, CREATE|ALTER|DROP, its script)
        # Per event the held statements leave disabled: the status they gave it, and the session of the last
        self.final_status: dict[str, tuple[str | None, dict[str, str]]] = {}
        self.stop_ts = stop_at.timestamp()
        # A whole-second time (MariaDB's) says only that its event is within that second: one in the
        # stop time's own second may be after it, so it stops there (never a change after TIME).
        self.stop_second = math.floor(self.stop_ts)
        self.commit_at: float | None = None  # the transaction's commit time, where the binlog has it
        self.order = StampOrder(stop_at)  # where there is none: are the logged times in commit order?
        # The transaction being read, where its time is its session's: (file:pos, time, stats.events then)
        self.logged: tuple[str, int, int] | None = None
        self.reading_on = False  # stopped by a logged time: the events after are read (_read_on), not applied
        # (file:pos, time) of the transaction being read on, until its end or its change to the database
        self.read_on_open: tuple[str, int] | None = None
        self.reset_at_end = False  # session settings of a CREATE … SELECT stay until its commit
        self.conn = connect(db, database=target)
        # Tables the binlog creates come back as they were, whatever the server's defaults (as the
        # loader's): TABLE_SHAPE settings this account may not set refuse only a CREATE they would change.
        self.unkept_shape = keep_table_shape(self.conn)
        self.cur = self.conn.cursor()
        # ... unless the statement was logged under other values of them (a session of the source's
        # with explicit_defaults_for_timestamp OFF): those are set for it, and then these again
        self.shape = self._session_shape()
        self.shape_changed: dict[str, str] = {}
        # The binlog does not record the engine a CREATE TABLE without ENGINE got: the session's default,
        # InnoDB on a server as shipped. This server's own default may differ (MyISAM, Aria): never taken.
        self.cur.execute(f"SET SESSION default_storage_engine = {REPLAY_ENGINE}")
        self.other_databases = self._databases() - {source, target}
        self.cur.execute("SELECT VERSION(), @@max_allowed_packet")
        version, packet = self.cur.fetchone()
        self.mysql = "mariadb" not in str(version).lower()
        self.max_packet = int(packet)
        self.part_bytes = rows_part_bytes(self.max_packet)
        # An event longer than this cannot go in a BINLOG statement (base64 makes it 4/3 longer): one a
        # compressed transaction claims is refused as it is decoded, never held whole.
        self.max_event_bytes = self.max_packet
        self.fde: ev.FormatDescription | None = None
        self.fde_sent: bytes | None = None
        # One statement's table maps and row events, held until its end or until a part is full
        self.pending: list[ev.Event] = []
        self.pending_rows_bytes = 0
        self.maps_counted = 0  # the first of self.pending (table maps of a part sent) counted in stats
        self.statement_sent = False  # a part of the statement was sent
        self.kept: dict[int, bool] = {}
        self.open = False  # a transaction is open on our connection
        self.stats = ReplayStats()
        self.where = ""

    def close(self) -> None:
        self.conn.close()

    def _databases(self) -> set[str]:
        self.cur.execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA")
        return {str(name) for (name,) in self.cur.fetchall()}

    def start_with(self, fde_raw: bytes) -> None:
        self.fde = ev.format_description(ev.parse_event(fde_raw))

    def apply(self, events: Iterable[tuple[str, ev.Event]]) -> bool:
        """Apply events in order until the stop time; True when it was reached (an event at or after it).
        Stopped by a logged time (no commit time), the events after it are read on, to the end of
        `events`: one logged before the stop time there means the stop is not known (stamp_order)."""
        events = iter(events)
        for where, event in events:
            self.where = where
            if not self._read(event):
                if self.open:
                    self._run("ROLLBACK")
                    self.open = False
                self.stats.stopped_at = where
                if self.commit_at is None:
                    self.logged = None  # (the one stopped at)
                    self.order.stopped(where, event.timestamp)
                    self.reading_on = True
                    self._read_on(events)
                return True
        if self.open:  # the archive ends inside a transaction: it is not complete, leave it out
            self._run("ROLLBACK")
            self.open = False
        return False

    def _read_on(self, events: Iterator[tuple[str, ev.Event]]) -> None:
        """After a stop by a logged time: every later transaction of the database, to the order."""
        for where, event in events:
            self.where = where
            if event.type == ev.FORMAT_DESCRIPTION:  # (a new file's, or the one of a segment after a skip)
                self.fde = ev.format_description(event)
            elif ev.logged_transaction_start(event):
                self.read_on_open = (where, event.timestamp)
            elif event.type == ev.XID:
                self.read_on_open = None  # (it ended without a change to the database)
            elif self.read_on_open is not None and self._read(event, self._changes_source):
                self.order.after_stop(*self.read_on_open)
                self.read_on_open = None

    def skips(self, segment: SegmentIndex) -> bool:
        """Whether the replay may leave the next archived segment unread (not download it): stopped by a
        logged time, not inside a transaction logged before the stop (whose rest may be in it), and the
        segment's index says every transaction begun in it is logged at or after the stop: none of them
        can show the times out of order (stamp_order). An index without that time is read."""
        if not self.reading_on or (self.read_on_open is not None and self.read_on_open[1] < self.stop_ts):
            return False
        earliest = segment.earliest_logged
        if earliest is None or earliest.timestamp() < self.stop_ts:
            return False
        self.read_on_open = None  # (logged at or after the stop: its rest, wherever, is no matter)
        return True

    def _changes_source(self, event: ev.Event) -> bool:
        """Whether an event (not applied) is of a change to the database: as _one would take it."""
        if event.type == ev.FORMAT_DESCRIPTION:
            self.fde = ev.format_description(event)
            return False
        if event.type == ev.TABLE_MAP:
            return ev.table_map(event, self._fde()).database == self.source
        if event.type not in (ev.QUERY, ev.EXECUTE_LOAD_QUERY):
            return False
        q = ev.query(event, self._fde())
        text = q.text.strip().rstrip(b";").strip()
        if text.upper() in _TRANSACTION_CONTROL or _XA.match(text):
            return False
        if statement_kind(text, q.database, self.source) == "skip":
            return source_defaults_change(text, q.database, self.source) is not None
        return q.database == self.source or self._names_source(q)

    # --- one event ---------------------------------------------------------------------------------

    def _read(self, event: ev.Event, how: Callable[[ev.Event], bool] | None = None) -> bool:
        """_one (or `how`), where an event whose fields run past its end (cut short or rewritten in the
        bucket, its checksums made to match) is refused as the damaged input it is, naming it, before it
        is sent."""
        try:
            return (how or self._one)(event)
        except (IndexError, ValueError, struct.error) as exc:  # (UnicodeDecodeError is a ValueError)
            raise IntegrityError(
                f"the binlog event at {self.where} (type {event.type}) cannot be read, its fields run past "
                f"its {event.size} bytes ({exc}): the archived segment is damaged; nothing was published"
            ) from None

    def _reached(self, event: ev.Event) -> bool:
        """Whether the transaction `event` ends (or the DDL it is) comes at or after the stop time:
        by its commit time to the microsecond where the binlog has one (MySQL), else by the second
        its statement started (so a statement running across the stop time is left out only on MySQL);
        one logged in the stop time's own second, when that time is not a whole second, is refused."""
        if self.commit_at is not None:
            return self.commit_at >= self.stop_ts
        if event.timestamp == self.stop_second and self.stop_ts > self.stop_second:
            # Logged in TIME's own second, which the binlog does not divide: before or after TIME is not
            # known, and leaving it out or in would each give a database that may never have been
            second = datetime.fromtimestamp(self.stop_second, UTC)
            raise OperationError(
                f"the binlog event at {self.where} is logged in the second of --to-time "
                f"({second:%Y-%m-%dT%H:%M:%SZ}), and this binlog has whole seconds only (MariaDB): whether "
                f"it came before or after --to-time is not known; restore to {second:%H:%M:%S} (without "
                f"that second) or to {second + timedelta(seconds=1):%H:%M:%S} (with it)"
            )
        return event.timestamp >= self.stop_second

    def _ends_at_or_after_stop(self, event: ev.Event) -> bool:
        """Whether the transaction this GTID event begins is known, before any of it is sent, to end at
        or after the stop time: MySQL's GTID event holds the commit time, MariaDB's the commit statement's
        second (the one its XID or COMMIT has). Sending it and rolling it back at its end would keep
        what no rollback undoes: a MyISAM table's rows, AUTO_INCREMENT counters moved on."""
        if self.commit_at is None and event.type != ev.GTID_MARIADB:
            return False  # a MySQL without commit times: decided at the transaction's end
        return self._reached(event)

    def _one(self, event: ev.Event) -> bool:
        kind = event.type
        if kind == ev.FORMAT_DESCRIPTION:
            self.fde = ev.format_description(event)
            return True
        if kind in (ev.GTID_MYSQL, ev.ANONYMOUS_GTID_MYSQL, ev.GTID_MARIADB):
            if self.logged is not None:  # the transaction before has ended
                where, stamp, events_before = self.logged
                self.order.applied(where, stamp, ours=self.stats.events > events_before)
                self.logged = None
            self.commit_at = ev.commit_time(event)  # a transaction begins
            if self._ends_at_or_after_stop(event):
                return False
            if self.commit_at is None:
                self.logged = (self.where, event.timestamp, self.stats.events)
            return True
        fde = self._fde()
        if kind == ev.TABLE_MAP:
            table = ev.table_map(event, fde)
            self.kept[table.table_id] = table.database == self.source
            if table.database == self.source:
                self.pending.append(ev.rename_table_map(event, fde, self.target))
            return True
        if kind in ev.ROWS_EVENTS:
            if self.kept.get(ev.rows_table_id(event, fde)):
                self.pending.append(event)
                self.pending_rows_bytes += len(event.raw)
            if ev.rows_flags(event, fde) & ev.STMT_END_FLAG:
                self._flush_statement()
            elif self.pending_rows_bytes > self.part_bytes:
                self._send_rows(but_last_part=True)  # a part is full: sent now, not held to the end
            return True
        if kind == ev.XID:
            return self._end_transaction(event)
        if kind in (ev.QUERY, ev.EXECUTE_LOAD_QUERY):
            return self._query(event, fde)
        if kind == ev.TRANSACTION_PAYLOAD:  # the transaction's own events, read as they come
            return all(self._one(inner) for inner in ev.payload_events(event, fde, self.max_event_bytes))
        if kind in ev.MARIADB_COMPRESSED:
            raise OperationError(
                f"binlog event at {self.where} is compressed (log_bin_compress): point-in-time restore "
                "cannot replay it; turn compression off"
            )
        return True

    def _fde(self) -> ev.FormatDescription:
        if self.fde is None:
            raise OperationError(f"binlog event at {self.where} comes before any format description")
        return self.fde

    def _end_transaction(self, event: ev.Event) -> bool:
        if self._reached(event):
            return False
        if self.open:
            self._run("COMMIT")
            self.open = False
            self.stats.transactions += 1
        if self.reset_at_end:
            self._reset_session()
        return True

    def _query(self, event: ev.Event, fde: ev.FormatDescription) -> bool:
        q = ev.query(event, fde)
        text = q.text.strip().rstrip(b";").strip()
        if _XA.match(text):
            return self._xa(event)
        control = _TRANSACTION_CONTROL.get(text.upper())
        if control == "commit":
            return self._end_transaction(event)
        if control == "rollback":
            if self.open:
                self._run("ROLLBACK")
                self.open = False
            return True
        kind = statement_kind(text, q.database, self.source)
        defaults = source_defaults_change(text, q.database, self.source)
        if control is not None or (kind == "skip" and defaults is None):
            return True
        if self._reached(event):
            return False
        if defaults is not None:  # the target's own defaults, for the tables made after it
            self._run_ddl(
                event, ev.Query(self.target, defaults, q.sql_mode, q.charset, q.time_zone, q.flags2)
            )
            return True
        if kind == "drops-source":
            raise OperationError(
                f"{self.source} was dropped at {self.where} ({event.time:%Y-%m-%dT%H:%M:%SZ}): "
                "restore to a time before it"
            )
        if q.database == self.source or (not q.database and self._names_source(q)):
            # (from a session with no default database every name is qualified: `shop`.t is ours)
            if changes_rows(text):
                self._refuse_logged_rows(q)
            if kind == "event":
                self._hold_event(event, q)
            else:
                self._run_ddl(event, q)
        elif self._names_source(q):
            if changes_rows(text):
                self._refuse_logged_rows(q)
            self._refuse_an_in_place_restore(event, q.database)  # (our own swap runs from staging)
            raise OperationError(
                f"a statement at {self.where} changes {self.source} from another database "
                f"({q.text[:80].decode(errors='replace')}): restore to a time before it"
            )
        return True

    def _refuse_logged_rows(self, q: ev.Query) -> None:
        statement = " ".join(q.text[:80].decode(errors="replace").split())
        raise OperationError(
            f"the binlog event at {self.where} changes {self.source}'s rows logged as a statement "
            f"(binlog_format STATEMENT or MIXED) and not as rows: {statement}; running it again does not "
            "give the same rows back; restore to a time before it, and have every session log ROW"
        )

    def _xa(self, event: ev.Event) -> bool:
        """An XA statement. Its rows are prepared in one transaction and committed by a later `XA COMMIT`
        (or not at all): replaying that is not done, so an XA transaction that changes the database
        before the stop time is refused, never dropped without a word."""
        if self._reached(event):
            return False
        if self.open:  # rows of the database are in it (any other transaction has ended by now)
            raise OperationError(
                f"an XA transaction at {self.where} changes {self.source}: point-in-time restore cannot "
                "replay XA transactions (prepared, then committed apart); restore to a time before it"
            )
        return True

    # --- sending -------------------------------------------------------------------------------------

    def _flush_statement(self) -> None:
        self._send_rows()
        if self.statement_sent:
            self.stats.statements += 1
        self.pending, self.pending_rows_bytes, self.maps_counted, self.statement_sent = [], 0, 0, False
        self.kept.clear()  # the server forgets table ids at the statement's end

    def _send_rows(self, *, but_last_part: bool = False) -> None:
        """Send the statement's row events held so far (`but_last_part`: its full parts only, the rest
        held on), keeping its table maps for the rest of it."""
        last_rows = max((i for i, e in enumerate(self.pending) if e.type in ev.ROWS_EVENTS), default=None)
        if last_rows is None:
            return
        fde = self._fde()
        events = self.pending[: last_rows + 1]
        maps = [e for e in events if e.type == ev.TABLE_MAP]  # (a statement's maps come before its rows)
        # One statement's row events (a bulk INSERT … SELECT: tens of MiB, or GBs) may outgrow the
        # server's max_allowed_packet as one BINLOG statement, and the memory. Sent in parts instead,
        # each ending its part (STMT_END: the server closes the tables after it) and so each with the
        # table maps again; a full part is sent as soon as it is read, before the statement's end.
        parts = _parts([e for e in events if e.type in ev.ROWS_EVENTS], self.part_bytes)
        kept = parts.pop() if but_last_part else []
        self.pending = [e for e in self.pending if e.type == ev.TABLE_MAP] + kept
        self.pending_rows_bytes = sum(len(e.raw) for e in kept)
        if not parts:
            return
        self._send_fde()
        self._begin()
        for part in parts:
            if not ev.rows_flags(part[-1], fde) & ev.STMT_END_FLAG:
                part[-1] = ev.with_stmt_end(part[-1], fde)
            statement = "BINLOG '" + base64.b64encode(b"".join(e.raw for e in maps + part)).decode() + "'"
            self._refuse_oversized(statement, part)
            self._run(statement)
        self.stats.events += len(maps) - self.maps_counted + sum(len(part) for part in parts)
        self.maps_counted, self.statement_sent = len(maps), True

    def _refuse_oversized(self, statement: str, part: list[ev.Event]) -> None:
        """A rows event too large for any statement the server takes (one row of a LONGBLOB written
        with a short statement, REPEAT(…)): the server would only drop the connection."""
        if len(statement) + 1 <= self.max_packet:  # (+1: the command byte)
            return
        needed = -(-(len(statement) + 1) // (1 << 20))  # MiB, rounded up
        raise OperationError(
            f"the binlog event at {self.where} changes {sum(len(e.raw) for e in part):,} bytes of rows "
            f"at once, which is {len(statement) + 1:,} bytes as a BINLOG statement: more than this "
            f"server's max_allowed_packet ({self.max_packet:,}); set max_allowed_packet to at least "
            f"{needed}M on the server (RDS: in the DB parameter group), then restore again"
        )

    def _send_fde(self) -> None:
        fde = self._fde()
        if self.fde_sent != fde.raw:
            self._run("BINLOG '" + base64.b64encode(fde.raw).decode() + "'")
            self.fde_sent = fde.raw
            if self.mysql:  # MySQL sets GTID_NEXT to NOT_YET_DETERMINED after it: new GTIDs for ours
                self._run("SET @@SESSION.GTID_NEXT = 'AUTOMATIC'")

    def _begin(self) -> None:
        if not self.open:
            self._run("START TRANSACTION")  # (BEGIN opens a block where sql_mode has ORACLE)
            self.open = True

    def _run_ddl(self, event: ev.Event, q: ev.Query) -> None:
        if self.open:  # DDL commits implicitly on the server: say so ourselves
            self._run("COMMIT")
            self.open = False
        text = self._renamed(event, q)
        self._refuse_unkept_shape(text)
        if _ATOMIC_CREATE_SELECT.search(text):
            self._open_create_select(event, q, text)
            return
        self._run(self._session_settings(event, q))
        try:
            self._confine(text, self.target)
            self._run(text)
        finally:
            self._reset_session()
        self.stats.events += 1

    def _hold_event(self, event: ev.Event, q: ev.Query) -> None:
        """Keep an event's DDL for the published database, under the session it was logged with (read
        back from the server as names) and at its time (an EVERY without STARTS starts then)."""
        if self.open:
            self._run("COMMIT")
            self.open = False
        self._renamed(event, q)  # refuses a statement naming another database
        text = renamed_qualifiers(q.text, self.source, self.published_as, _escapes(q))
        self._run(self._session_settings(event, q))
        try:
            self._run("SELECT @@sql_mode, @@character_set_client, @@collation_connection, @@time_zone")
            sql_mode, charset, collation, time_zone = (str(v) for v in self.cur.fetchone())
            self._confine_under(text, self.published_as, charset, sql_mode)
        finally:
            self._reset_session()
        settings = {
            "sql_mode": sql_mode,
            "character_set_client": charset,
            "character_set_results": charset,
            "collation_connection": collation,
            "time_zone": time_zone,
        }
        self.stats.events += 1
        verb, name = event_change(q.text) or ("", "")
        change = read_event_statement(text, verb, _escapes(q)) if verb != "DROP" else None
        if change is None:
            self.final_status.pop(name, None)
        elif not change.if_not_exists:  # left disabled: the status it ends with is set after them all
            text = change.disabled
            before, _ = self.final_status.pop(name, (None, settings))
            self.final_status[change.renamed_to or name] = (change.status or before, settings)
        # (IF NOT EXISTS: whether the backup has the event is not known here, so whether the statement
        # makes it or does nothing is not either: it runs as logged, and its status is left to it)
        script = (
            f"SET TIMESTAMP = {event.timestamp};\n".encode()
            + with_session(settings, stored_program(text, sql_mode=sql_mode, charset=charset))
            + b"SET TIMESTAMP = DEFAULT;\n"
        )
        mine = [held for held in self.held if held[0] == name]
        if verb == "DROP" and mine and mine[0][1] == "CREATE":
            # Made and dropped within the replay: not made at all (due, it would fire once when published)
            self.held = [held for held in self.held if held[0] != name]
            return
        self.held.append((name, verb, script))

    @property
    def held_events(self) -> bytes:
        """The held event DDL, then each event they enabled last enabled again, under its last session."""
        # A name is read from the logged bytes as UTF-8, the bytes that are not kept as they are
        # (surrogateescape): written back the same, they read as the name under the logged character set.
        enable = [
            with_session(
                settings, f"ALTER EVENT {quote_identifier(name)} ENABLE;\n".encode("utf-8", "surrogateescape")
            )
            for name, (status, settings) in self.final_status.items()
            if status == "ENABLE"
        ]
        return b"".join(script for _, _, script in self.held) + b"".join(enable)

    def _open_create_select(self, event: ev.Event, q: ev.Query, text: bytes) -> None:
        """MySQL logs CREATE TABLE … SELECT as `CREATE TABLE … START TRANSACTION`, its rows, then a
        commit: in between, the server takes only BINLOG statements and the COMMIT (error 3977). So the
        format description goes first, and the session settings stay until the transaction ends."""
        self._send_fde()
        self._run(self._session_settings(event, q))
        try:
            self._confine(text, self.target)
            self._run(text)
        except OperationError:
            self._reset_session()
            raise
        self.open, self.reset_at_end = True, True
        self.stats.events += 1

    def _confine(self, text: bytes, own: str) -> None:
        """Refuse, before it runs, a logged statement the restore of a dump would refuse (confine/): the
        archive is input from the bucket, as a backup is, and the replay runs it with the restoring
        account's rights. Read under the session it was logged with, which is in force now; its names
        qualified with `own`, the database it runs in, are its own."""
        self._run("SELECT @@character_set_client, @@sql_mode")
        charset, sql_mode = (str(value) for value in self.cur.fetchone())
        self._confine_under(text, own, charset, sql_mode)

    def _confine_under(self, text: bytes, own: str, charset: str, sql_mode: str) -> None:
        """_confine, given the session's client character set and sql_mode (already read)."""
        statement = " ".join(text[:80].decode(errors="replace").split())
        if charset.lower() in BACKSLASH_UNSAFE_CHARSETS:
            reason = f"was logged under the client character set {charset}, which the check cannot read"
        else:
            modes = QuoteModes()
            modes.follow(sql_mode)
            check = Confinement(
                where="binlog", databases=frozenset(self.other_databases), modes=modes, own_database=own,
                binlog_ddl=True, client_charset=charset.lower(),
            )  # fmt: skip
            reason = check.refusal(text) or ""
        if reason:
            raise OperationError(
                f"the binlog event at {self.where} is refused, it {reason}: {statement}; a restore to a time "
                "before it does not replay it"
            )

    def _refuse_unkept_shape(self, text: bytes) -> None:
        """A CREATE TABLE the server would give another shape than it had, where this account could not
        set the session back: refused before it runs (in staging, so nothing is published)."""
        reason = unkept_shape_change(self.unkept_shape, text, "as it was at the time")
        if reason:
            statement = " ".join(text[:80].decode(errors="replace").split())
            raise OperationError(f"replaying the binlog event at {self.where} ({statement}): {reason}")

    def _reset_session(self) -> None:
        self._run("SET NAMES utf8mb4")
        self._run(
            "SET TIMESTAMP = DEFAULT, SESSION sql_mode = DEFAULT, SESSION time_zone = DEFAULT, "
            "SESSION foreign_key_checks = DEFAULT"
            + "".join(f", SESSION {name} = {self.shape[name]}" for name in self.shape_changed)
        )
        self.shape_changed = {}
        self.reset_at_end = False

    def _session_shape(self) -> dict[str, str]:
        """This session's values of the settings a logged statement may carry its own of."""
        names = ", ".join(f"'{name}'" for name in LOGGED_SHAPE)
        self.cur.execute(f"SHOW SESSION VARIABLES WHERE Variable_name IN ({names})")
        return {str(name): str(value).upper() for name, value in self.cur.fetchall()}

    def _session_settings(self, event: ev.Event, q: ev.Query) -> str:
        """_session_settings, plus the table-shaping settings the statement was logged with where they
        differ from this session's (put back by _reset_session)."""
        logged = logged_shape(q, self.fde.server_version if self.fde else "")
        self.shape_changed = {
            name: value for name, value in logged.items() if self.shape.get(name, value) != value
        }
        return _session_settings(event, q) + "".join(
            f", SESSION {name} = {value}" for name, value in self.shape_changed.items()
        )

    def _refuse_an_in_place_restore(self, event: ev.Event, other: str) -> None:
        """A statement naming `{db}_before_…` or a staging database of it is an in-place restore's
        swap: the database after it holds what that restore loaded, which no binlog of it replays."""
        if other.startswith((f"{self.source}_before_", f"{self.source}{MARK}")):
            raise OperationError(
                f"{self.source} was restored in place at {self.where} ({event.time:%Y-%m-%dT%H:%M:%SZ}): "
                "a time after that needs a backup taken after the restore"
            )

    def _renamed(self, event: ev.Event, q: ev.Query) -> bytes:
        """The statement with names qualified by the source pointing at the target; others refused.
        Only names are read: text in strings and comments stays as written (`COMMENT 'copy of shop.t'`)."""
        escapes = _escapes(q)
        for other in self.other_databases:
            if names_database(q.text, other, escapes):
                self._refuse_an_in_place_restore(event, other)
                raise OperationError(
                    f"a statement at {self.where} names another database ({other}): "
                    f"{q.text[:80].decode(errors='replace')}; restore to a time before it"
                )
        return renamed_qualifiers(q.text, self.source, self.target, escapes)

    def _names_source(self, q: ev.Query) -> bool:
        return names_database(q.text, self.source, _escapes(q))

    def _run(self, statement: str | bytes, *, relaxed: bool = False) -> Any:
        try:
            return self.cur.execute(statement)
        except pymysql.err.MySQLError as exc:
            code = exc.args[0] if exc.args else 0
            message = exc.args[1] if len(exc.args) > 1 else str(exc)
            text = statement if isinstance(statement, bytes) else statement.encode()
            if code == ER_TOO_BIG_ROWSIZE and not relaxed and is_ddl(text):
                # Made with innodb_strict_mode OFF at the source (the binlog does not say): so here too
                if not relax_strict_mode(self.conn):
                    raise OperationError(
                        f"replaying the binlog event at {self.where} failed: {code} {message}"
                        + STRICT_MODE_HINT
                    ) from None
                try:
                    return self._run(statement, relaxed=True)
                finally:
                    self.cur.execute("SET SESSION innodb_strict_mode = DEFAULT")
            if code == ER_TABLE_WITHOUT_PK:  # the server's words name neither the table nor the way out
                shown = statement if isinstance(statement, str) else statement.decode(errors="replace")
                raise OperationError(
                    f"replaying the binlog event at {self.where} ({' '.join(shown[:80].split())}): it "
                    "makes a table without a primary key, which this server refuses "
                    "(sql_require_primary_key=ON); restore to a time before it, or set "
                    "sql_require_primary_key=OFF on the server (RDS: in the DB parameter group) and "
                    "restore again"
                ) from None
            raise OperationError(
                f"replaying the binlog event at {self.where} failed: {code} {message}"
            ) from None


ER_SPECIFIC_ACCESS_DENIED = 1227  # "you need (at least one of) the … BINLOG_ADMIN … privilege(s)"


def check_binlog_statements_allowed(db: DbSettings, fde_raw: bytes, database: str) -> None:
    """Refuse, before anything is loaded, an account the server will not let run BINLOG statements.
    A Format_description event alone changes nothing but the session's binlog format, and the server
    checks the privilege before it reads the event."""
    with connect(db, database="") as conn, conn.cursor() as cur:
        try:
            cur.execute("BINLOG '" + base64.b64encode(fde_raw).decode() + "'")
        except pymysql.err.MySQLError as exc:
            if not exc.args or exc.args[0] != ER_SPECIFIC_ACCESS_DENIED:
                raise
            raise OperationError(
                f"point-in-time restore of {database} refused before any change: replaying the binary "
                f"log runs BINLOG statements, which {db.user} may not: grant it BINLOG_ADMIN or "
                "REPLICATION_APPLIER (MySQL), BINLOG REPLAY (MariaDB 10.5+) or SUPER"
            ) from None


def rows_part_bytes(max_allowed_packet: int) -> int:
    """Row event bytes per BINLOG statement: base64 makes them 4/3 larger, and the table maps and the
    statement's text come on top; half the packet leaves room for both."""
    return max(max_allowed_packet // 2, 1 << 10)


def _parts(rows: list[ev.Event], part_bytes: int) -> list[list[ev.Event]]:
    """`rows` in order, cut into runs of at most `part_bytes` (a larger event goes alone: it cannot
    be cut, and the server says whether it takes it)."""
    parts: list[list[ev.Event]] = [[]]
    size = 0
    for event in rows:
        if parts[-1] and size + len(event.raw) > part_bytes:
            parts.append([])
            size = 0
        parts[-1].append(event)
        size += len(event.raw)
    return parts


# Settings that decide the shape of a table a statement creates, which the binlog logs with it: a
# TIMESTAMP column's implicit defaults, the collation a bare utf8mb4 means. Those collations by id.
LOGGED_SHAPE = ("explicit_defaults_for_timestamp", "default_collation_for_utf8mb4")
_UTF8MB4_DEFAULTS = {45: "UTF8MB4_GENERAL_CI", 255: "UTF8MB4_0900_AI_CI"}
# MariaDB logs explicit_defaults_for_timestamp as a flags2 bit, as 10.11 is seen to; from an older
# writer an unset bit might mean only that it was not logged, so the session's value stays.


def _mariadb_logs_explicit_defaults(server_version: str) -> bool:
    m = re.match(r"(\d+)\.(\d+)", server_version)
    return "MariaDB" in server_version and m is not None and (int(m[1]), int(m[2])) >= (10, 11)


def logged_shape(q: ev.Query, server_version: str) -> dict[str, str]:
    """The LOGGED_SHAPE values a statement ran under, where its event records them (`server_version`:
    the binlog's writer, from its format description)."""
    shape: dict[str, str] = {}
    explicit = q.explicit_defaults
    if _mariadb_logs_explicit_defaults(server_version) and q.flags2 is not None:
        explicit = bool(q.flags2 & ev.OPTION_EXPLICIT_DEF_TIMESTAMP)
    if explicit is not None:
        shape["explicit_defaults_for_timestamp"] = "ON" if explicit else "OFF"
    collation = _UTF8MB4_DEFAULTS.get(q.utf8mb4_collation or 0)
    if collation is not None:
        shape["default_collation_for_utf8mb4"] = collation
    return shape


def _session_settings(event: ev.Event, q: ev.Query) -> str:
    """The SET that gives the replaying session what the logged statement ran under."""
    settings = [f"TIMESTAMP = {event.timestamp}"]
    if q.sql_mode is not None:
        settings.append(f"SESSION sql_mode = {q.sql_mode}")
    if q.charset is not None:
        client, connection, server = q.charset
        settings.append(
            f"@@session.character_set_client = {client}, @@session.collation_connection = {connection}, "
            f"@@session.collation_server = {server}"
        )
    if q.time_zone is not None:  # TIMESTAMP literals (a default, the rows an ALTER fills) are read in it
        settings.append(f"SESSION time_zone = '{escape_string(q.time_zone)}'")
    if q.flags2 is not None:  # a child made before its parent, a parent dropped under its child
        checks = 0 if q.flags2 & ev.OPTION_NO_FOREIGN_KEY_CHECKS else 1
        settings.append(f"SESSION foreign_key_checks = {checks}")
    return "SET " + ", ".join(settings)


def _escapes(q: ev.Query) -> bool:
    return q.sql_mode is None or not int(q.sql_mode) & _NO_BACKSLASH_ESCAPES
