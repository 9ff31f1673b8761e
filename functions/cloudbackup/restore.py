"""Restore a backup (or a plain dump file) into a new database or in place, safely.

Nothing is ever loaded into the target directly. Every restore:
1. loads into a private staging database (`{target}__cbrestore_{id}`, see mysql/staging.py) over
   `jobs` connections, each applying the dump's session settings;
2. for a full restore, hashes the data object while it streams into staging: the SHA-256 and size
   must match the manifest at the end, or nothing is published (a subset restore verifies the whole
   object first, then reads only its frames);
3. publishes with one atomic RENAME TABLE (mysql/swap.py), then recreates the other objects;
4. drops the staging database in a `finally`; a killed process leaves it behind for the next
   restore of the same target to drop.
So a corrupt object, a bad statement or a lost connection leaves the target as it was. So does a
caller's `should_stop()` (a time budget running out): it is asked between statements, never inside
one, and last just before publishing; once the publishing RENAME has begun the restore finishes.

Before any of this, every statement is checked (confine/check.py): a dump may only create, fill and
drop objects of the database it restores, so one refused statement stops the restore before anything
is created anywhere. For a backup that pass is the verification pass (size, SHA-256, frames); each
statement is checked again as it is sent (a big row statement by the digest of the bytes accepted).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import pymysql
from pydantic import BaseModel, Field

from cloudbackup.catalog import CatalogEntry
from cloudbackup.confine.allowed import SYSTEM_DATABASES
from cloudbackup.confine.check import Confinement
from cloudbackup.confine.lanes import check_before_loading
from cloudbackup.dburl import DbSettings
from cloudbackup.dump_ending import DumpEnding
from cloudbackup.errors import IntegrityError, OperationError, Stopped, UsageError
from cloudbackup.format.frames import detect_compression
from cloudbackup.format.manifest import Compression, Frame, Manifest
from cloudbackup.mysql.connection import connect, connection_error
from cloudbackup.mysql.definer import DefinerPolicy
from cloudbackup.mysql.feed import StatementFeed
from cloudbackup.mysql.identifiers import database_name_problem, quote_identifier, setting_literal
from cloudbackup.mysql.load import Loader, LoadError, longest_statement
from cloudbackup.mysql.name_case import Created
from cloudbackup.mysql.routines import hidden_routines
from cloudbackup.mysql.server_text import SHOW_SQL_MODE
from cloudbackup.mysql.staging import (
    UNFINISHED,
    StagingDatabase,
    marked_unfinished,
    schema_contents,
    schema_exists,
    working_copy,
)
from cloudbackup.mysql.subset_triggers import leave_out_triggers
from cloudbackup.mysql.swap import SwapPlan, publish, tables_of
from cloudbackup.mysql.system_user import refuse_unreplaceable
from cloudbackup.preflight.check import (
    check_definers,
    check_dump_name_case,
    check_restorable,
    check_session_settings,
)
from cloudbackup.preflight.new_target import refuse_unremovable_new_target
from cloudbackup.progress import NoProgress, Progress
from cloudbackup.verify import FrameStream, decode, decoded_ahead, verify_backup

READ_CHUNK = 1 << 20
UTF8_BOM = b"\xef\xbb\xbf"
T = TypeVar("T")
_SEQUENCE_CALL = re.compile(r"(?i)nextval\(`(?:[^`]|``)+`\.`((?:[^`]|``)+)`\)")


class RestoreResult(BaseModel):
    source_database: str
    target_database: str
    backup_id: str | None = None
    tables: int = 0
    rows: int = 0
    bytes: int = 0
    seconds: float = 0.0
    previous_tables_kept_in: str | None = None
    definers_rewritten: list[str] = Field(default_factory=list)
    stale_staging_dropped: list[str] = Field(default_factory=list)
    dry_run: bool = False
    # What the target held before (`3 tables/views, 1 routines`): what an in-place restore replaces.
    replaces: list[str] = Field(default_factory=list)
    schema_only: bool = False
    restored_tables: list[str] = Field(default_factory=list)
    # Some tables only (--table / --exclude-table): in place, only those are replaced.
    some_tables: bool = False
    # What the backup itself left out (its manifest): a whole restore of it is not the whole database.
    backup_excluded_tables: list[str] = Field(default_factory=list)
    backup_excluded_views: list[str] = Field(default_factory=list)
    backup_excluded_triggers: list[str] = Field(default_factory=list)
    backup_programs_naming_excluded: list[str] = Field(default_factory=list)
    # Some tables only: the triggers of theirs naming a table neither restored nor in the target
    triggers_left_out: list[str] = Field(default_factory=list)
    dump_file: str | None = None  # the file's name, when a dump file was restored


def restore_backup(
    db: DbSettings,
    entry: CatalogEntry,
    *,
    target_database: str | None = None,
    in_place: bool = False,
    tables: list[str] | None = None,
    exclude_tables: list[str] | None = None,
    schema_only: bool = False,
    definer: DefinerPolicy = "keep",
    jobs: int = 2,
    dry_run: bool = False,
    progress: Progress | None = None,
    lock_wait_timeout: int = 60,
    before_publish: Callable[[str], bytes] | None = None,
    should_stop: Callable[[], bool] | None = None,
    events_disabled: bool = False,
    scratch: bool = False,
) -> RestoreResult:
    """Restore `entry` (see the module's doc). `tables` or `exclude_tables` restore a subset of the tables,
    reading only their frames; `schema_only` creates every object but loads no rows.
    `before_publish(staging)` may change the loaded staging database (point-in-time replay); what it
    returns runs in the target after the backup's events, when they are created there (event DDL).
    `should_stop()` true stops the restore at the next safe point with Stopped (module's doc).
    `events_disabled` creates the backup's events DISABLED (a drill's copy must never fire one).
    `scratch`: the target is a drill's scratch database, named as the working copy it is."""
    started = time.monotonic()
    manifest = entry.manifest
    target = choose_target(db, manifest.database, target_database, in_place, scratch=scratch)
    stop = stop_check(should_stop, target)
    if exclude_tables:
        tables = tables_except(manifest, tables, exclude_tables)
    frames = frames_to_load(manifest, tables)
    result = RestoreResult(
        source_database=manifest.database,
        target_database=target,
        backup_id=manifest.id,
        tables=sum(f.kind == "table" for f in frames),
        dry_run=dry_run,
        restored_tables=[f.name for f in frames if f.kind == "table"],
        some_tables=tables is not None,
        schema_only=schema_only,
        backup_excluded_tables=manifest.excluded_tables,
        backup_excluded_views=manifest.excluded_views,
        backup_excluded_triggers=manifest.excluded_triggers,
        backup_programs_naming_excluded=manifest.programs_naming_excluded,
    )
    with _unchanged_on_server_error(db, target):
        result.replaces = check_target(db, target, in_place)
        if in_place and tables is None:
            check_replaced_routines(db, target)
        if in_place:
            check_replaced_definers(db, target, definer, tables)
        check_restorable(db, entry, frames, target)
        where = f"backup {manifest.id}"
        # The objects the pass finds with another account's definer, when kept: only the loaded frames' count
        # (the pass reads every frame, but a trigger of a table not restored is not created).
        definers: dict[str, str] | None = {} if definer == "keep" else None
        # The session settings the loaded frames set, with the objects made under them (likewise).
        settings: dict[tuple[str, str], str] = {}
        loaded = {f.offset for f in frames}
        created: list[str] = []  # the tables the object's CREATE TABLEs name, in order

        def read(check: Callable[[Iterable[bytes]], None]) -> None:
            def statements(frame: Frame, sql: Iterable[bytes]) -> None:
                found_before, set_before = set(definers or ()), set(settings)
                before = len(created)
                check(checked(sql, stop))
                if frame.kind == "table" and frame.offset in loaded:
                    refuse_misnamed_frame(manifest, frame, created[before:])
                if frame.offset not in loaded:  # found only in a frame not loaded: not created, not run
                    _forget_since(definers, found_before)
                    _forget_since(settings, set_before)

            verify_backup(entry, statements=statements)

        # One pass before anything changes: the object matches its manifest and every statement is allowed.
        try:
            with ConditionalComments(db) as runs:
                first = check_before_loading(
                    lambda: _confinement(
                        db,
                        where,
                        target,
                        manifest.database,
                        runs=runs,
                        definers=definers,
                        settings=settings,
                        created=created,
                    ),
                    read,
                    manifest.sql_bytes,
                )
        except OperationError as exc:
            raise _failed(exc, target) from None
        if definers:
            check_definers(db, definers, f"restore of backup {manifest.id}", target)
        check_session_settings(db, settings, f"restore of backup {manifest.id}", target)
        if dry_run:
            return result
    with _staged(db, target, manifest.charset, manifest.collation, progress, result, started) as (
        staging,
        shown,
    ):
        # The manifest knows each frame's SQL size: the share done and the time left.
        if not schema_only:  # skipped rows never count as loaded bytes: no share then
            shown.expect(sum(f.raw_length for f in frames if f.kind != "database"))
        with Loader(db, staging.name, jobs=jobs, definer=definer) as loader:
            confinement = _loading_confinement(
                db, where, target, manifest.database, staging.name, loader, first
            )
            run = StatementFeed(
                loader,
                confinement,
                progress=shown,
                schema_only=schema_only,
                check=stop,
                events_disabled=events_disabled,
            )
            if tables is None:
                _load_whole_object(entry, run)
            else:
                for frame in frames:
                    body = entry.store.iter_range(manifest.data.key, frame.offset, frame.length)
                    with decoded_ahead(manifest.compression, body) as sql:
                        run.load(sql, frame_label(frame))
                run.finish()
            _count(result, loader)
        stop()
        events_sql, charset, collation = run.events_sql, manifest.charset, manifest.collation
        if before_publish is not None:
            events_sql += before_publish(staging.name)
            charset, collation = _defaults(db, staging.name)  # as the replay left them (ALTER DATABASE)
            stop()
        if tables is not None:
            result.triggers_left_out = leave_out_triggers(
                db, staging.name, target, [t.name for t in manifest.tables], tables
            )
        refuse_unloaded(db, staging.name, result.restored_tables, manifest.id)
        # Not asked again from here: a RENAME stopped half-way would leave the target half-restored.
        wanted = None if tables is None else tables + needed_sequences(db, staging.name, tables)
        plan = SwapPlan(
            staging=staging.name,
            target=target,
            charset=charset,
            collation=collation,
            in_place=in_place,
            tables=wanted,
            events_sql=events_sql,
            lock_wait_timeout=lock_wait_timeout,
            definer=definer,
        )
        result.previous_tables_kept_in = publish(db, plan)
        result.definers_rewritten += plan.definers_rewritten
    return result


def restore_dump_file(
    db: DbSettings,
    path: str,
    *,
    target_database: str | None = None,
    in_place: bool = False,
    schema_only: bool = False,
    definer: DefinerPolicy = "keep",
    jobs: int = 2,
    dry_run: bool = False,
    progress: Progress | None = None,
    lock_wait_timeout: int = 60,
) -> RestoreResult:
    """A plain dump (.sql, .sql.gz, .sql.zst) from this tool, mysqldump or mariadb-dump."""
    started = time.monotonic()
    if os.path.isdir(path):
        raise UsageError(f"--backup {path}: a directory, not a dump file")
    if os.path.exists(path) and not os.path.isfile(path):
        # (`--backup <(zcat dump.gz)`: the dump is read once to check it and again to load it)
        raise UsageError(
            f"--backup {path}: not a regular file (a pipe or a device); a restore reads the dump twice, "
            "checked and then loaded: give the file itself"
        )
    if not os.path.isfile(path):
        raise UsageError(f"--backup {path}: no such file")
    target = target_database or db.database
    if not target:
        raise UsageError(f"restoring the file {path} needs --target-database NEW (or a database in --db-url)")
    refuse_working_copy_name(target)
    with open(path, "rb") as f:
        compression = detect_compression(f.read(4), os.path.basename(path))
    result = RestoreResult(
        source_database=os.path.basename(path),
        dump_file=os.path.basename(path),
        target_database=target,
        dry_run=dry_run,
        schema_only=schema_only,
    )
    with _unchanged_on_server_error(db, target):
        result.replaces = check_target(db, target, in_place)
        if in_place:
            check_replaced_routines(db, target)
            check_replaced_definers(db, target, definer)
        where = os.path.basename(path)
        # (The file's size says roughly how much SQL it holds: a compressed dump is about a fifth.)
        sql_bytes = os.path.getsize(path) * (1 if compression == "none" else 5)
        ending = DumpEnding()  # a file cut short between statements is refused too, before anything changes
        definers: dict[str, str] | None = {} if definer == "keep" else None  # (see restore_backup)
        settings: dict[tuple[str, str], str] = {}
        made: list[Created] = []  # (what its CREATEs make: a file has no manifest naming its tables)
        try:
            with ConditionalComments(db) as runs:
                first = check_before_loading(
                    lambda: _confinement(
                        db, where, target, None, runs=runs, definers=definers, settings=settings, made=made
                    ),
                    lambda check: check(ending.watch(_dump_sql(compression, path))),
                    sql_bytes,
                )
        except OperationError as exc:
            raise _failed(exc, target) from None
        if first.next_number == 1:  # not one statement: restoring it would only make an empty database
            raise UsageError(
                f"--backup {path}: holds no SQL statement (empty, or only comments); nothing was changed"
            )
        try:
            ending.refuse_if_cut_short(where)
        except OperationError as exc:
            raise _failed(exc, target) from None
        if definers:
            check_definers(db, definers, f"restore of {where}", target)
        check_session_settings(db, settings, f"restore of {where}", target)
        check_dump_name_case(db, made, f"restore of {where}", target)
        if dry_run:
            return result
        # Tables the file creates without a character set get what the stock client would give them: the
        # existing target's defaults, or the server's for a new one.
        charset, collation = _defaults(db, target)
    with _staged(db, target, charset, collation, progress, result, started) as (staging, shown):
        with Loader(db, staging.name, jobs=jobs, definer=definer) as loader:
            confinement = _loading_confinement(db, where, target, first.source, staging.name, loader, first)
            run = StatementFeed(loader, confinement, progress=shown, schema_only=schema_only)
            run.load(_dump_sql(compression, path), "")
            run.finish()
            _count(result, loader)
        if run.source_database:
            result.source_database = run.source_database
        # A --databases dump says how its database was created: a new target is created alike.
        charset, collation = run.database_charset or (charset, collation)
        plan = SwapPlan(staging.name, target, charset, collation, in_place, events_sql=run.events_sql)
        plan.lock_wait_timeout = lock_wait_timeout
        plan.definer = definer
        result.tables = _count_tables(db, staging.name)
        result.previous_tables_kept_in = publish(db, plan)
        result.definers_rewritten += plan.definers_rewritten
    return result


@contextmanager
def _staged(
    db: DbSettings,
    target: str,
    charset: str,
    collation: str,
    progress: Progress | None,
    result: RestoreResult,
    started: float,
) -> Iterator[tuple[StagingDatabase, Progress]]:
    """A staging database for the block, dropped after it whatever happens; failures name the target."""
    shown = progress or NoProgress()
    shown.begin(f"restore {target}", result.tables)
    staging = StagingDatabase(db, target, charset=charset, collation=collation)
    try:
        yield staging, shown
    except OperationError as exc:
        raise _failed(exc, target) from None
    except pymysql.err.MySQLError as exc:
        raise _server_failure(exc, db, target) from None
    finally:
        staging.drop()
        shown.end()
    result.stale_staging_dropped = staging.stale_dropped
    result.seconds = round(time.monotonic() - started, 3)


@contextmanager
def _unchanged_on_server_error(db: DbSettings, target: str) -> Iterator[None]:
    """A server error no step put in a line of its own (the connection lost while the target, the
    statements or the staging database are checked): one line, the target as it was. The swap says
    its own errors (mysql/swap.py), so none of those comes here."""
    try:
        yield
    except pymysql.err.MySQLError as exc:
        raise _server_failure(exc, db, target) from None


def _server_failure(exc: pymysql.err.MySQLError, db: DbSettings, target: str) -> Exception:
    error = connection_error(exc, db, target)
    return _failed(error, target) if isinstance(error, OperationError) else error


def _count(result: RestoreResult, loader: Loader) -> None:
    result.rows, result.bytes = loader.rows, loader.bytes
    result.definers_rewritten = loader.definers_rewritten


def stop_check(should_stop: Callable[[], bool] | None, target: str) -> Callable[[], None]:
    """A check to call at each safe point: raises Stopped once `should_stop()` says so."""

    def check() -> None:
        if should_stop is not None and should_stop():
            raise Stopped(f"restore into {target} stopped before publishing; {target} was left as it was")

    return check


def checked(items: Iterable[T], check: Callable[[], None]) -> Iterator[T]:
    """`items`, calling `check` before each: a stop during a long read (the pass before loading, a replay)."""
    for item in items:
        check()
        yield item


def _failed(exc: OperationError, target: str) -> OperationError:
    """One line: what failed, and that the target is as it was (unless the swap said otherwise)."""
    if isinstance(exc, UsageError | Stopped) or str(exc).startswith("tables restored into"):
        return exc
    kind = IntegrityError if isinstance(exc, IntegrityError) else OperationError
    return kind(f"restore into {target} failed, {target} was left as it was: {exc}")


# --- choosing and checking the target ------------------------------------------------------------


def choose_target(
    db: DbSettings, source: str, target_database: str | None, in_place: bool, *, scratch: bool = False
) -> str:
    """The database a restore publishes into. `scratch`: a drill's own scratch database (see below)."""
    target = _chosen_target(db, source, target_database, in_place)
    if not scratch:
        refuse_working_copy_name(target)
    return target


def refuse_working_copy_name(target: str) -> None:
    """A restore's staging database and a drill's scratch copy are `{db}__cbrestore_{8 hex}` and
    `{db}__cbdrill_{8 hex}`; the next restore or drill of `{db}` drops any so named whose run is gone
    (a killed one's leftovers). A target of that name would be dropped with its restored data."""
    if working_copy(target):
        raise UsageError(
            f"target database {target!r} is named as a restore's staging database or a drill's scratch "
            "copy ({db}__cbrestore_… or {db}__cbdrill_… and 8 hex digits), which a later restore or "
            "drill drops as left behind: choose another name"
        )


def _chosen_target(db: DbSettings, source: str, target_database: str | None, in_place: bool) -> str:
    if in_place and target_database:
        raise UsageError("--in-place and --target-database exclude each other")
    if in_place:
        return source
    target = target_database or db.database
    if not target:
        raise UsageError("say where to restore: --target-database NEW, or --in-place to replace " + source)
    if target == source:
        raise UsageError(f"--target-database {target} is the backed-up database itself: use --in-place")
    return target


def refuse_unusable_target(target: str) -> None:
    """Refuse, before anything is read or loaded, a target the server would not take as a database
    name (found at the final swap otherwise, after the whole load), and the server's own databases."""
    problem = database_name_problem(target)
    if problem is not None:
        raise UsageError(f"target database {target!r} {problem}")
    if target.lower() in SYSTEM_DATABASES:
        raise UsageError(f"{target} is a system database of the server: a restore never writes into it")


def check_target(db: DbSettings, target: str, in_place: bool) -> list[str]:
    """A new target must not exist or be empty; restoring over data is what --in-place is for.
    The server's own databases are never a target. Returns what the target holds now (what an
    in-place restore replaces)."""
    refuse_unusable_target(target)
    with connect(db, database="") as conn, conn.cursor() as cur:
        exists = schema_exists(cur, target)
        contents = schema_contents(cur, target) if exists else []
        unfinished = bool(contents) and marked_unfinished(cur, target)
        if not exists:
            refuse_unremovable_new_target(cur, db.user, target)
    if unfinished and not in_place:
        raise UsageError(
            f"target database {target} holds what a restore that did not finish left: its tables, "
            "maybe without their triggers, views, routines or events (it holds a table "
            f"{UNFINISHED}); drop it and restore again, or choose a new name"
        )
    if contents and not in_place:
        raise UsageError(
            f"target database {target} exists and is not empty ({', '.join(contents)}); "
            "choose a new name or use --in-place"
        )
    return contents


def check_replaced_routines(db: DbSettings, target: str) -> None:
    """An in-place restore keeps a copy of the routines it replaces, read at the swap: an account the
    server hides their bodies from is refused now, before the load, not once the load is done."""
    with connect(db, database="") as conn, conn.cursor() as cur:
        hidden = hidden_routines(cur, target) if schema_exists(cur, target) else []
    if hidden:
        names = ", ".join(f"{r.kind.lower()} {quote_identifier(r.name)}" for r in hidden)
        raise OperationError(
            f"restore into {target} refused before any change: the server hides the definition of "
            f"{names} from {db.user}, and an in-place restore keeps a copy of the routines it replaces; "
            f"grant {db.user} SHOW_ROUTINE (MySQL 8.0.20+), SELECT ON mysql.proc (MariaDB before 11.3) "
            "or SHOW CREATE ROUTINE (MariaDB 11.3+)"
        )


def check_replaced_definers(
    db: DbSettings, target: str, definer: DefinerPolicy, tables: list[str] | None = None
) -> None:
    """Refuse now, before the load, an in-place restore MySQL would stop for want of SYSTEM_USER once
    the tables are live (mysql/system_user.py); the swap asks again before it changes anything."""
    with connect(db, database="") as conn, conn.cursor() as cur:
        if schema_exists(cur, target):
            refuse_unreplaceable(cur, target, db.user, with_triggers=definer == "keep", tables=tables)


def frames_to_load(manifest: Manifest, tables: list[str] | None) -> list[Frame]:
    """The frames a restore reads, in object order. Unknown table names are a usage error."""
    frames = sorted(manifest.frames, key=lambda f: f.offset)
    if tables is None:
        return frames
    known = {f.name for f in frames if f.kind == "table"}
    unknown = [t for t in tables if t not in known]
    if unknown:
        raise UsageError(_no_such_table("--table", manifest, unknown[0]))
    wanted = set(tables)
    keep = ("header", "sequence", "footer")
    return [f for f in frames if f.kind in keep or (f.kind == "table" and f.name in wanted)]


def _no_such_table(flag: str, manifest: Manifest, name: str) -> str:
    """The one line for a name the backup holds no table of: what it holds instead, when it can tell."""
    said = f"{flag} {name}: backup {manifest.id} of {manifest.database} has no such table"
    tables = [t.name for t in manifest.tables]
    spelt = [t for t in tables if t.casefold() == name.casefold()]
    if spelt:  # table names are case-sensitive on Linux servers, as in the backup
        return f"{said} (it has {spelt[0]!r}: names differ in case)"
    if any(f.kind == "views" for f in manifest.frames):
        return f"{said} ({flag} names base tables; views, routines and events come only with a whole restore)"
    return said


def tables_except(manifest: Manifest, tables: list[str] | None, exclude: list[str]) -> list[str]:
    """The tables (all of the backup's, or those named) less `exclude`; unknown names are a usage error."""
    known = [t.name for t in manifest.tables]
    unknown = [t for t in exclude if t not in known]
    if unknown:
        raise UsageError(_no_such_table("--exclude-table", manifest, unknown[0]))
    kept = [t for t in (tables if tables is not None else known) if t not in exclude]
    if not kept:
        raise UsageError("--exclude-table leaves no table to restore")
    return kept


def refuse_misnamed_frame(manifest: Manifest, frame: Frame, created: list[str]) -> None:
    """A table's frame must create that table and no other: a frame index naming another (a crafted
    or mismatched manifest) would have a restore report as restored a table it never published."""
    other = next((name for name in created if name != frame.name), None)
    if other is None and created:
        return
    creates = f"creates table {other!r}" if other is not None else "creates no table"
    raise IntegrityError(
        f"backup {manifest.id}: the frame of table {frame.name!r} (offset {frame.offset}) {creates}: "
        "its manifest does not describe its object; nothing was restored"
    )


def refuse_unloaded(db: DbSettings, staging: str, tables: list[str], backup_id: str) -> None:
    """Before publishing, each table the restore will report is in staging: one its frame did not create
    (or renamed away) would be reported restored and published as nothing."""
    with connect(db, database="") as conn, conn.cursor() as cur:
        # (in either case: a server with lower_case_table_names stores a `Foo` as `foo`)
        loaded = {name.casefold() for name in tables_of(cur, staging)}
    missing = [t for t in tables if t.casefold() not in loaded]
    if missing:
        raise IntegrityError(
            f"backup {backup_id}: its frame of table {missing[0]!r} did not load that table; nothing was "
            "published"
        )


def frame_label(frame: Frame) -> str:
    return f"{frame.kind} {frame.name}" if frame.name else frame.kind


def needed_sequences(db: DbSettings, staging: str, tables: list[str]) -> list[str]:
    """Sequences the restored tables' defaults call (loaded with them, published with them)."""
    with connect(db, database="") as conn, conn.cursor() as cur:
        # (the defaults as the pattern reads them: quoted with backticks, whatever the server's sql_mode)
        cur.execute(f"SET sql_mode = {setting_literal(SHOW_SQL_MODE)}")
        cur.execute(
            "SELECT table_name, column_default FROM information_schema.columns "
            "WHERE table_schema = %s AND column_default LIKE %s",
            (staging, "%nextval(%"),
        )
        found = [
            m.group(1)
            for table, default in cur.fetchall()
            if table in tables
            for m in _SEQUENCE_CALL.finditer(str(default))
        ]
    return sorted({name.replace("``", "`") for name in found})


# --- reading ---------------------------------------------------------------------------------------


def _load_whole_object(entry: CatalogEntry, run: StatementFeed) -> None:
    """Stream the object once into staging, hashing it; a mismatch stops before anything is published."""
    manifest = entry.manifest
    stream = FrameStream(manifest, entry.store.iter_range(manifest.data.key))
    try:
        for frame, body in stream:
            if frame.kind == "database":
                continue  # CREATE DATABASE + USE of the source name: the target is ours to choose
            with decoded_ahead(manifest.compression, body) as sql:
                run.load(sql, frame_label(frame))
        run.finish()
    except (LoadError, IntegrityError):
        # A damaged object often shows as a bad statement first: say what is really wrong.
        stream.finish()
        raise
    stream.finish()


def _forget_since(found: dict[Any, str] | None, before: set[Any]) -> None:
    """Drop from `found` what the pass added to it since it held `before`."""
    if found is not None:
        for key in set(found) - before:
            del found[key]


def _confinement(
    db: DbSettings,
    where: str,
    target: str,
    source: str | None,
    *,
    staging: str = "",
    runs: ConditionalComments | None = None,
    definers: dict[str, str] | None = None,
    settings: dict[tuple[str, str], str] | None = None,
    made: list[Created] | None = None,
    created: list[str] | None = None,
) -> Confinement:
    """The check of a restore's statements: names of every database the server has are off limits.
    Before loading (given what the server `runs`), the check follows the dump's sql_mode itself, from the
    server's default."""
    before_loading = runs is not None
    for found in (definers, settings, made, created):
        if found is not None:
            found.clear()  # (filled by the pass; one read again after a refusal starts afresh: lanes.py)
    with connect(db, database="") as conn, conn.cursor() as cur:
        cur.execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA")
        databases = {str(name) for (name,) in cur.fetchall()} | {target, staging} - {""}
        cur.execute("SELECT @@SESSION.sql_mode, @@SESSION.max_allowed_packet")
        sql_mode, max_packet = cur.fetchone()
    return Confinement(
        where=where,
        source=source,
        databases=frozenset(databases),
        follow_sql_mode=before_loading,
        learn_row_kinds=before_loading,
        sql_mode=str(sql_mode),
        runs=runs,
        definers=definers,
        settings=settings,
        made=made,
        created_tables=created,
        max_statement_bytes=longest_statement(int(max_packet)),
    )


class ConditionalComments:
    """Whether the server runs the code of a conditional comment that opens so (`/*!40101`,
    `/*M!100616`), asked of the server itself: MySQL skips `/*M!` comments, MariaDB skips some 5-digit
    versions below its own, and how many digits a version has differs between them. None: the server
    does not read the opener (a syntax error). At most MAX_OPENERS different openers are asked about,
    on one connection (opened at the first, closed on leaving the block): a dump has a handful. After
    the block, only the answers it got are given (the check while loading reads the same statements)."""

    MAX_OPENERS = 64

    def __init__(self, db: DbSettings) -> None:
        self.db = db
        self.known: dict[bytes, bool | None] = {}
        self._conn: Any = None
        self._closed = False

    def __enter__(self) -> ConditionalComments:
        return self

    def __exit__(self, *exc: object) -> None:
        self._closed = True
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __call__(self, opener: bytes) -> bool | None:
        if opener not in self.known:
            if self._closed or len(self.known) >= self.MAX_OPENERS or not _OPENER.fullmatch(opener):
                return None
            if self._conn is None:
                self._conn = connect(self.db, database="")
            try:
                with self._conn.cursor() as cur:
                    cur.execute(b"SELECT 0 " + opener + b" +1 */")
                    self.known[opener] = bool(cur.fetchone()[0])
            except pymysql.err.ProgrammingError:
                self.known[opener] = None
        return self.known[opener]


_OPENER = re.compile(rb"/\*M?![0-9]*")


def _loading_confinement(
    db: DbSettings,
    where: str,
    target: str,
    source: str | None,
    staging: str,
    loader: Loader,
    first: Confinement,
) -> Confinement:
    """The check while loading: quote modes as the server reports them to the loader, and what the
    check before loading (`first`) learnt of the big row statements, so their bytes are not read twice."""
    confinement = _confinement(db, where, target, source, staging=staging)
    confinement.modes = loader.modes
    # (What the server said of the conditional comments it runs: a comment read on to its end before
    # loading must read the same now.)
    confinement.runs = first.runs
    confinement.accepted_rows = first.accepted_rows
    confinement.row_kinds = first.row_kinds
    return confinement


def _read_file(path: str) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while chunk := f.read(READ_CHUNK):
            yield chunk


def _dump_sql(compression: Compression, path: str) -> Iterator[bytes]:
    """The SQL of a dump file, decompressed, without the UTF-8 byte order mark an editor on Windows
    puts at its start: the stock mysql clients (MariaDB's and MySQL's) skip it there too."""
    return without_byte_order_mark(decode(compression, _read_file(path)))


def without_byte_order_mark(chunks: Iterator[bytes]) -> Iterator[bytes]:
    head = b""
    for chunk in chunks:
        head += chunk
        if len(head) >= len(UTF8_BOM):
            break
    else:  # a stream shorter than the mark (an empty file)
        if head != UTF8_BOM:
            yield head
        return
    yield head.removeprefix(UTF8_BOM)
    yield from chunks


def _defaults(db: DbSettings, target: str) -> tuple[str, str]:
    with connect(db, database="") as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT default_character_set_name, default_collation_name FROM information_schema.schemata "
            "WHERE schema_name = %s",
            (target,),
        )
        row = cur.fetchone()
        if row is None:
            cur.execute("SELECT @@character_set_server, @@collation_server")
            row = cur.fetchone()
        charset, collation = row
    return str(charset), str(collation)


def _count_tables(db: DbSettings, database: str) -> int:
    with connect(db, database="") as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = %s AND table_type <> 'VIEW'",
            (database,),
        )
        return int(cur.fetchone()[0])


# --- loading ---------------------------------------------------------------------------------------
