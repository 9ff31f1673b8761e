"""A restore drill: the backup restored into a scratch database, proven, and dropped.

1. A scratch database `{db}__cbdrill_{id}` is created under a fresh name (mysql/staging.py), marked
   alive by a lock its connection holds; scratch databases of a killed drill (their lock free) are
   dropped first, with the staging databases their restores left.
2. The backup is restored into it with the ordinary restore, which checks the object's SHA-256 as it
   loads; the time this takes is the figure for a recovery-time objective. Its events are created
   DISABLED (and any still enabled are disabled at once): a copy must not run scheduled work (nor
   change the rows it is about to prove), not even between an event's CREATE and an ALTER EVENT.
3. The copy is dumped again with the same dumper and proven against the backup: the same tables with
   the manifest's row counts, the same number of views, routines, triggers, events and sequences, each
   table's content, and the sequences, routines, views and events as written (drill/proof.py).
4. The scratch database is dropped whatever happened.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pymysql
from pydantic import BaseModel, Field

from cloudbackup.catalog import CatalogEntry
from cloudbackup.dburl import DbSettings
from cloudbackup.drill.proof import (
    DrillFailed,
    prove_content,
    prove_definitions,
    prove_objects,
    prove_tables,
)
from cloudbackup.drill.redump import redump
from cloudbackup.errors import OperationError, Stopped, UsageError
from cloudbackup.mysql.connection import connect
from cloudbackup.mysql.identifiers import quote_identifier
from cloudbackup.mysql.routines import list_events
from cloudbackup.mysql.server_text import text
from cloudbackup.mysql.snapshot import server_info
from cloudbackup.mysql.staging import DRILL_MARK, StagingDatabase
from cloudbackup.progress import Progress
from cloudbackup.restore import restore_backup


class DrillResult(BaseModel):
    backup_id: str
    database: str
    scratch_database: str
    tables: int
    rows: int
    seconds: float
    restore_seconds: float
    verified: bool = True
    tables_proven_by_digest: int = 0  # the others were compared with the backup object's sections
    stale_dropped: list[str] = Field(default_factory=list)
    # A partial backup proves only what it holds: the report says so (an OK of "0 rows" read as whole).
    schema_only: bool = False
    excluded_tables: list[str] = Field(default_factory=list)
    excluded_views: list[str] = Field(default_factory=list)  # left out with the tables they read
    excluded_triggers: list[str] = Field(default_factory=list)  # and the triggers naming those
    programs_naming_excluded: list[str] = Field(default_factory=list)  # kept, naming those


def run_drill(
    db: DbSettings,
    entry: CatalogEntry,
    *,
    jobs: int = 2,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> DrillResult:
    """Restore `entry` on `db`'s server and prove it; DrillFailed (one line, naming the table or step)
    if it does not restore or does not match. Nothing is left on the server either way.
    `should_stop()` is asked as the restore asks it, then through the proof's re-dump: Stopped then."""
    started = time.monotonic()
    manifest = entry.manifest
    where = f"drill of backup {manifest.id} of {manifest.database!r}"
    _refuse_other_flavour(db, entry, where)
    try:
        scratch = StagingDatabase(
            db, manifest.database, charset=manifest.charset, collation=manifest.collation, mark=DRILL_MARK
        )
    except OperationError as exc:
        raise DrillFailed(f"{where} failed creating the scratch database: {exc}") from None
    try:
        try:
            restored = restore_backup(
                db,
                entry,
                target_database=scratch.name,
                jobs=jobs,
                progress=progress,
                should_stop=should_stop,
                events_disabled=True,
                scratch=True,
            )
        except Stopped:  # not a failed drill: its caller stopped it (the scratch database goes below)
            raise Stopped(f"{where} stopped during its restore, its scratch database dropped") from None
        except OperationError as exc:
            raise DrillFailed(f"{where} failed at the restore: {exc}") from None
        try:
            _disable_events(db, scratch.name)
        except pymysql.err.MySQLError as exc:
            raise DrillFailed(f"{where} failed disabling the restored events: {exc}") from None
        by_digest = _prove(db, entry, scratch.name, where, _stop_check(should_stop, where))
    finally:
        scratch.drop()
    return DrillResult(
        backup_id=manifest.id,
        database=manifest.database,
        scratch_database=scratch.name,
        tables=len(manifest.tables),
        rows=restored.rows,
        seconds=round(time.monotonic() - started, 3),
        restore_seconds=restored.seconds,
        tables_proven_by_digest=by_digest,
        stale_dropped=scratch.stale_dropped,
        schema_only=manifest.schema_only,
        excluded_tables=manifest.excluded_tables,
        excluded_views=manifest.excluded_views,
        excluded_triggers=manifest.excluded_triggers,
        programs_naming_excluded=manifest.programs_naming_excluded,
    )


def _refuse_other_flavour(db: DbSettings, entry: CatalogEntry, where: str) -> None:
    """A drill proves each table by its text as the server writes it (SHOW CREATE TABLE, row
    literals), which MariaDB and MySQL write differently: across them every table would fail to
    match, a false alarm. So that is refused before anything is created."""
    try:
        with connect(db, database="") as conn, conn.cursor() as cur:
            cur.execute("SELECT VERSION()")
            server = server_info(text(cur.fetchone()[0]))
    except pymysql.err.MySQLError as exc:
        raise DrillFailed(f"{where} failed reading the server's version: {exc}") from None
    source = entry.manifest.server
    if server.flavour != source.flavour:
        raise UsageError(
            f"{where}: the backup is of {source.flavour} {source.version} and this server is "
            f"{server.flavour} {server.version}; a drill compares each table as its own kind of server "
            f"writes it, so drill it on {source.flavour} (`cloudbackup restore` tries the crossing)"
        )


def _stop_check(should_stop: Callable[[], bool] | None, where: str) -> Callable[[], None]:
    def check() -> None:
        if should_stop is not None and should_stop():
            raise Stopped(f"{where} stopped during its proof, its scratch database dropped")

    return check


def _prove(db: DbSettings, entry: CatalogEntry, scratch: str, where: str, check: Callable[[], None]) -> int:
    needs_sections = any(f.kind == "table" and f.sha256 is None for f in entry.manifest.frames)
    check()
    try:
        copy = redump(db, scratch, keep_sections=needs_sections, check=check)
        try:
            prove_tables(entry, copy)
            prove_objects(entry, copy)
            prove_definitions(entry, copy)
            return prove_content(entry, copy)
        finally:
            copy.close()
    except Stopped:
        raise
    except OperationError as exc:
        raise DrillFailed(f"{where} failed: {exc}") from None


def _disable_events(db: DbSettings, scratch: str) -> None:
    with connect(db, database=scratch) as conn, conn.cursor() as cur:
        for name in list_events(cur, scratch):
            cur.execute(f"ALTER EVENT {quote_identifier(name)} DISABLE")
