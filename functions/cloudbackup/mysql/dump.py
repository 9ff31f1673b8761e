"""One database's dump: its sections, in the frame order of format/manifest.py, into a FrameWriter.

header, sequence*, table* (DDL + rows + triggers), routines, views, events, footer. Every table is one
frame, so it can be read alone by its offsets; the header holds the session every frame after it
expects (the restore replays it on each connection it loads with). The dump names no database (no
CREATE DATABASE, no USE, no qualified name): the stock client loads it into whichever database the
operator names, and a hand restore into a copy never touches the source.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pymysql
from pymysql.constants.ER import NO_SUCH_TABLE as ER_NO_SUCH_TABLE
from pymysql.constants.ER import TABLE_DEF_CHANGED as ER_TABLE_DEF_CHANGED

from cloudbackup.errors import OperationError
from cloudbackup.format.manifest import NameCaseReference, ObjectCounts, SnapshotPosition
from cloudbackup.format.writer import FrameWriter
from cloudbackup.handover import merge
from cloudbackup.mysql import objects
from cloudbackup.mysql.chunks import KeySpan, iter_chunks, key_span
from cloudbackup.mysql.connection import interrupt
from cloudbackup.mysql.foreign_keys import references, refuse_children_left_behind
from cloudbackup.mysql.identifiers import quote_identifier, setting_name
from cloudbackup.mysql.libraries import warn_of_libraries
from cloudbackup.mysql.name_case import name_case_references
from cloudbackup.mysql.parallel import RANGES_PER_JOB, RangeQueue, read_ranges, split_span
from cloudbackup.mysql.program_names import programs_naming, triggers_naming
from cloudbackup.mysql.reference_systems import warn_of_own_reference_systems
from cloudbackup.mysql.restorable import Refusals, server_databases
from cloudbackup.mysql.rows import TableLayout, iter_inserts, statement_limit, table_columns, table_layouts
from cloudbackup.mysql.server_text import text
from cloudbackup.mysql.snapshot import Snapshot
from cloudbackup.mysql.views import views_reading
from cloudbackup.printable import one_line
from cloudbackup.progress import NoProgress, Progress

log = logging.getLogger(__name__)

# The session the rows load in: UTF-8 text, UTC timestamps, explicit zeros kept in AUTO_INCREMENT
# columns, zero dates accepted (no strict mode), and no key checks while the tables fill.
HEADER = b"""\
/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
/*!40101 SET @OLD_CHARACTER_SET_RESULTS=@@CHARACTER_SET_RESULTS */;
/*!40101 SET @OLD_COLLATION_CONNECTION=@@COLLATION_CONNECTION */;
SET NAMES utf8mb4;
/*!40103 SET @OLD_TIME_ZONE=@@TIME_ZONE */;
/*!40103 SET TIME_ZONE='+00:00' */;
/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;
/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;
/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;
/*!40111 SET @OLD_SQL_NOTES=@@SQL_NOTES, SQL_NOTES=0 */;
"""

# Tables whose DDL and triggers are read in one go, ahead of their rows: few session switches, while
# the texts held stay small however many tables a database has.
SCHEMA_BATCH = 200

FOOTER = b"""\
/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;
/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;
/*!40014 SET UNIQUE_CHECKS=@OLD_UNIQUE_CHECKS */;
/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;
/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */;
/*!40101 SET CHARACTER_SET_RESULTS=@OLD_CHARACTER_SET_RESULTS */;
/*!40101 SET COLLATION_CONNECTION=@OLD_COLLATION_CONNECTION */;
/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;
-- Dump completed
"""


@dataclass(frozen=True)
class DumpResult:
    charset: str
    collation: str
    counts: ObjectCounts
    unrestorable: list[str] = field(default_factory=list)  # objects a restore would refuse (restorable.py)
    excluded_views: list[str] = field(default_factory=list)  # left out with the tables they read
    excluded_triggers: list[str] = field(default_factory=list)  # kept tables' triggers naming those
    programs_naming_excluded: list[str] = field(default_factory=list)  # kept routines and events naming those
    lower_case_table_names: int = 0  # the server's: 1 or 2 compare table names without case
    name_case_references: list[NameCaseReference] = field(default_factory=list)  # (mysql/name_case.py)


def header(database: str, snapshot: Snapshot, tool_version: str, charset: str, collation: str) -> bytes:
    defaults = f"CHARACTER SET {setting_name(charset)} COLLATE {setting_name(collation)}"
    banner = (
        f"-- cloudbackup {tool_version} dump of {_comment_text(quote_identifier(database))}\n"
        f"-- source database: {_comment_text(quote_identifier(database))}, {defaults}\n"
        f"-- server: {snapshot.server.flavour} {snapshot.server.version}\n"
        f"-- snapshot taken at {snapshot.started_at:%Y-%m-%dT%H:%M:%SZ}{_position(snapshot.position)}\n"
        "-- This file names no database. To restore it by hand into a new database `copy`:\n"
        f"--   mysql -e 'CREATE DATABASE copy {defaults}' && zstd -dc F | mysql copy\n"
        "-- (gunzip -c F for a .gz file).\n"
    )
    return banner.encode() + HEADER


def _comment_text(text: str) -> str:
    """A name inside a `--` comment line: control characters would end the comment."""
    return "".join(c if c >= " " else "?" for c in text)


def dump_database(
    conn: Any,
    database: str,
    writer: FrameWriter,
    snapshot: Snapshot,
    *,
    tool_version: str,
    progress: Progress | None = None,
    check: Callable[[], None] | None = None,
    helpers: Sequence[Any] = (),
    split_tables: Collection[str] = (),
    exclude_tables: Collection[str] = (),
    schema_only: bool = False,
) -> DumpResult:
    """Write every frame of `database` (the connection's current database, inside the snapshot).

    `helpers`, connections holding the same snapshot (mysql/shared_snapshot.py), read key ranges of
    the `split_tables` beside `conn` (mysql/parallel.py). After an error they are unusable.
    """
    shown = progress or NoProgress()
    limit = statement_limit(snapshot.max_allowed_packet)
    with conn.cursor() as cur:
        # Schema reads share one raw_results session (rows are read outside it, in the dump's session).
        with objects.raw_results(cur):
            folding = _lower_case_table_names(cur)
            found, left_out = _without(cur, objects.list_objects(cur, database), exclude_tables, folding)
            name_case = name_case_references(cur, database, _names(found), found.triggers) if folding else []
            refusals = Refusals(server_databases(cur))
            context = objects.program_context(cur, refusals)
            sequences = [(name, objects.sequence_section(cur, name)) for name in found.sequences]
            # Views are not in the snapshot: read now, beside it, and again at the end (check_views)
            views = objects.views_section(cur, found.views, database=database, refusals=refusals)
        warn_of_libraries(cur, database)
        layouts = table_layouts(cur, database)
        shown.begin(f"backup {database}", len(found.tables))
        shown.estimate_rows(_estimated_rows(cur, database, found.tables))
        writer.frame("header", header(database, snapshot, tool_version, found.charset, found.collation))
        for sequence, section in sequences:
            writer.frame("sequence", section, name=sequence)
        for start in range(0, len(found.tables), SCHEMA_BATCH):
            batch = found.tables[start : start + SCHEMA_BATCH]
            with objects.raw_results(cur):
                texts = [_table_texts(cur, database, table, found, context) for table in batch]
            _same_columns(cur, database, batch, layouts)
            for table, (ddl, triggers) in zip(batch, texts, strict=True):
                _table_frame(
                    conn,
                    cur,
                    database,
                    table,
                    _layout(layouts, table),
                    ddl,
                    triggers,
                    writer,
                    limit=limit,
                    progress=shown,
                    check=check,
                    helpers=helpers if table in split_tables else (),
                    schema_only=schema_only,
                )
        with objects.raw_results(cur):
            writer.frame("routines", objects.routines_section(cur, found.routines, context))
            writer.frame("views", _views_unchanged(cur, database, found.views, views))
            writer.frame("events", objects.events_section(cur, found.events, context))
        writer.frame("footer", FOOTER)
    return DumpResult(
        charset=found.charset,
        collation=found.collation,
        counts=found.counts(),
        unrestorable=refusals.lines,
        excluded_views=left_out.views,
        excluded_triggers=left_out.triggers,
        programs_naming_excluded=left_out.programs,
        lower_case_table_names=folding,
        name_case_references=name_case,
    )


def _views_unchanged(cur: Any, database: str, names: Sequence[str], first: bytes) -> bytes:
    """The views' section, as read when the snapshot opened, if they are still the same now.

    A view replaced while the tables were dumped could read a table or column the snapshot does not
    hold (its restore would fail): the backup fails and is run again instead.
    """
    if objects.views_section(cur, names, database=database) != first:
        raise OperationError(
            f"backup of {database!r} failed: a view changed definition (DDL) while the tables were "
            "dumped; nothing was kept, run the backup again"
        )
    return first


def _estimated_rows(cur: Any, database: str, tables: Collection[str]) -> int:
    """The server's row estimate for `tables` (InnoDB's is approximate): the progress line's share."""
    cur.execute(
        "SELECT TABLE_NAME, TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s",
        (database,),
    )
    wanted = set(tables)
    return sum(int(rows or 0) for name, rows in cur.fetchall() if text(name) in wanted)


@dataclass(frozen=True)
class LeftOut:
    """What a backup leaves out with the tables excluded from it, as no restore could create it whole."""

    views: list[str] = field(default_factory=list)
    triggers: list[str] = field(default_factory=list)
    programs: list[str] = field(default_factory=list)  # kept, naming them: `procedure p`, `event e`


def _without(
    cur: Any, found: objects.DatabaseObjects, exclude: Collection[str], folding: int
) -> tuple[objects.DatabaseObjects, LeftOut]:
    """The objects less the excluded tables (and their triggers), and the views and triggers left out
    with them.

    A view reading an excluded table, directly or through other views, could not be created by a
    restore (the server refuses a view over a missing table): it is left out too, said in one warning
    line, and listed in the manifest. A view named to exclude is left out likewise. A trigger of a kept
    table whose body names an excluded table or a view left out would be created, and fail at its first
    use (error 1146): it is left out, warned of and listed alike (program_names.py), and so is one calling
    a routine that names them. Such routines and events are kept (one may name the table only on a path
    it rarely takes), warned of and listed as naming what was left out. A kept table with a
    foreign key to an excluded one is refused (foreign_keys.py; the CLI refuses it before the snapshot).
    A name this database does not have is no error here: one run may back up several databases
    (backup.check_exclusions catches typos)."""
    if not exclude:
        return found, LeftOut()
    refuse_children_left_behind(references(cur, found.database), found.database, exclude)
    kept = [t for t in found.tables if t not in exclude]
    triggers = {t: names for t, names in found.triggers.items() if t not in exclude}
    views = views_reading(cur, found.database, found.views, exclude)
    _warn(found.database, views, "view(s) reading the excluded tables, which a restore could not create")
    gone = set(exclude) | set(views)
    fold = bool(folding)  # (the server's lower_case_table_names: names compared without case)
    programs = programs_naming(cur, found.database, gone, fold=fold)
    if programs:
        log.warning(
            "backup of %s keeps the routines and events naming the excluded tables, which fail where they "
            "use them: %s",
            one_line(quote_identifier(found.database)),
            ", ".join(one_line(p) for p in programs),
        )
    # (a trigger calling such a routine would fail on every write into its kept table: left out)
    calls = {p.split(" ", 1)[1] for p in programs if not p.startswith("event ")}
    naming = triggers_naming(cur, found.database, triggers, gone | calls, fold=fold)
    _warn(
        found.database,
        naming,
        "trigger(s) naming the excluded tables (or views left out), which would fail at their first use",
    )
    triggers = {t: [n for n in names if n not in naming] for t, names in triggers.items()}
    kept_views = [v for v in found.views if v not in views]
    return replace(found, tables=kept, triggers=triggers, views=kept_views), LeftOut(views, naming, programs)


def _warn(database: str, names: list[str], what: str) -> None:
    if names:
        log.warning(
            "backup of %s leaves out %d %s without them: %s",
            one_line(quote_identifier(database)),
            len(names),
            what,
            ", ".join(one_line(quote_identifier(n)) for n in names),
        )


def _lower_case_table_names(cur: Any) -> int:
    """The server's setting: 1 or 2, it compares table names without case."""
    cur.execute("SELECT @@lower_case_table_names")
    return int(cur.fetchone()[0])


def _names(found: objects.DatabaseObjects) -> list[str]:
    """Every name of `found` a statement may name as a table (its tables, views and sequences)."""
    return [*found.tables, *found.views, *found.sequences]


def _table_texts(
    cur: Any, database: str, table: str, found: objects.DatabaseObjects, context: objects.ProgramContext
) -> tuple[bytes, bytes]:
    """A table's DDL and its triggers' text (inside raw_results)."""
    ddl = objects.table_ddl(cur, table, database=database, refusals=context.refusals)
    warn_of_own_reference_systems(table, ddl, database)
    return ddl, objects.triggers_section(cur, found.triggers.get(table, []), context)


def _table_frame(
    conn: Any,
    cur: Any,
    database: str,
    table: str,
    layout: TableLayout,
    ddl: bytes,
    triggers: bytes,
    writer: FrameWriter,
    *,
    limit: int,
    progress: Progress,
    check: Callable[[], None] | None,
    helpers: Sequence[Any] = (),
    schema_only: bool = False,
) -> None:
    if check is not None:
        check()  # between tables too: a database of many small tables stops as promptly
    progress.current(table)
    # Rows read on several connections arrive in no fixed order: no content digest for those.
    writer.begin_frame("table", table, digest=not helpers)
    writer.write(ddl)
    rows = 0
    statements = (
        _table_statements(conn, cur, database, table, layout, limit=limit, check=check, helpers=helpers)
        if not schema_only and layout.own_rows
        else ()
    )
    for statement, count in statements:
        writer.write(statement)
        rows += count
        progress.add(rows=count, bytes=len(statement))
    writer.write(triggers)
    writer.end_frame(rows)
    progress.add(tables=1, bytes=len(ddl))


def _table_statements(
    conn: Any,
    cur: Any,
    database: str,
    table: str,
    layout: TableLayout,
    *,
    limit: int,
    check: Callable[[], None] | None,
    helpers: Sequence[Any],
) -> Iterator[tuple[bytes, int]]:
    """The table's INSERT statements: whole ranges of its integer key where it has one (chunks.py),
    read on several connections at once when `helpers` are given; row by row otherwise."""
    columns = layout.columns
    span = key_span(cur, database, table, layout) if columns else None
    if span is None:
        return iter_inserts(conn, database, table, columns, limit=limit, check=check)

    def read(connection: Any, part: KeySpan) -> Iterator[tuple[bytes, int]]:
        return iter_chunks(connection, database, table, columns, part, limit=limit, check=check)

    readers = [conn, *helpers]
    parts = split_span(span, RANGES_PER_JOB * len(readers)) if helpers else [span]
    if len(parts) < 2:
        return read(conn, span)
    log.debug(
        "reading %s on %d connections, in %d ranges of %s", table, len(readers), len(parts), span.column
    )
    left = RangeQueue(parts)

    def interrupt_all() -> None:
        for reader in readers:
            interrupt(reader)

    return merge([read_ranges(reader, left, read) for reader in readers], interrupt_all)


def _same_columns(cur: Any, database: str, tables: Sequence[str], layouts: dict[str, TableLayout]) -> None:
    """Fail as the server does (1412) if a table's columns changed since the dump listed them.

    Its definition, just read, must describe the rows the snapshot holds: a column added or dropped in
    place (MariaDB) before then would otherwise give a definition that never had those rows.
    """
    now = table_columns(cur, database, tables)
    for table in tables:
        if table in layouts and table in now and now[table] != layouts[table].columns:
            raise pymysql.err.OperationalError(ER_TABLE_DEF_CHANGED, f"Table {table!r} changed its columns")


def _layout(layouts: dict[str, TableLayout], table: str) -> TableLayout:
    """The table's layout; a table gone since the dump listed it fails as reading it would."""
    layout = layouts.get(table)
    if layout is None:
        raise pymysql.err.ProgrammingError(ER_NO_SUCH_TABLE, f"Table {table!r} doesn't exist")
    return layout


def _position(position: SnapshotPosition) -> str:
    if position.binlog_file is None:
        return ""
    gtid = f", GTID {position.gtid}" if position.gtid else ""
    return f", binlog {position.binlog_file}:{position.binlog_pos}{gtid}"
