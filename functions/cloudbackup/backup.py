"""Back up one database into a store as format v1: the data object first, the manifest last.

The manifest is the commit point. Any failure (lost connection, concurrent DDL, full disk, a stop
request) aborts the data object and writes no manifest, so nothing half-done is ever listed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from contextlib import closing
from datetime import UTC, datetime

import pymysql

from cloudbackup import __version__
from cloudbackup.confine.allowed import SYSTEM_DATABASES
from cloudbackup.dburl import DbSettings
from cloudbackup.errors import CloudBackupError, OperationError, UsageError
from cloudbackup.format.keys import backup_stem, data_key, manifest_key, new_backup_id
from cloudbackup.format.manifest import Compression, DataObject, Manifest
from cloudbackup.format.writer import FrameWriter
from cloudbackup.mysql.connection import connect, connection_error
from cloudbackup.mysql.connection_slots import spare_connections
from cloudbackup.mysql.dump import dump_database
from cloudbackup.mysql.foreign_keys import references, refuse_children_left_behind
from cloudbackup.mysql.parallel import JOBS, SPLIT_MIN_BYTES, big_tables
from cloudbackup.mysql.renames import check_not_renamed, creation_times
from cloudbackup.mysql.server_text import text
from cloudbackup.mysql.shared_snapshot import open_shared_snapshot
from cloudbackup.mysql.staging import working_copy
from cloudbackup.mysql.table_lock import TableLock
from cloudbackup.progress import NoProgress, Progress
from cloudbackup.storage.base import Storage

log = logging.getLogger(__name__)
# Views of the server's state, with no data of their own (a dump of them would restore nothing).
STATE_SCHEMAS = frozenset({"information_schema", "performance_schema"})

ER_TABLE_DEF_CHANGED = 1412
ER_NO_SUCH_TABLE = 1146  # listed in the snapshot, dropped before it was read
ER_BAD_FIELD = 1054  # a column listed when the dump began, dropped or renamed before its rows were read
# A routine, trigger or event listed when the snapshot opened, dropped before it was read
ER_SP_DOES_NOT_EXIST = 1305
ER_TRG_DOES_NOT_EXIST = 1360
ER_EVENT_DOES_NOT_EXIST = 1539
CR_SERVER_GONE = 2006
CR_SERVER_LOST = 2013
ER_CONNECTION_KILLED = 1927
ER_QUERY_INTERRUPTED = 1317


class BackupCancelled(OperationError):
    """should_stop() asked the backup to stop; nothing was kept."""


def default_source(db: DbSettings) -> str:
    """The name a server's backups are kept under when the operator gives none: its host (and port)."""
    return db.host if db.port == 3306 else f"{db.host}-{db.port}"


def resolve_databases(db: DbSettings, names: list[str] | None) -> list[str]:
    """The databases to back up: `names` checked to exist, or every non-system database (None)."""
    try:
        with connect(db, database="") as conn, conn.cursor() as cur:
            cur.execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME")
            existing = [str(name) for (name,) in cur.fetchall()]
    except pymysql.err.MySQLError as exc:  # the server gone since the connection opened: one line
        raise connection_error(exc, db, None) from None
    if names is None:
        # Staging and scratch databases come and go with a restore or a drill (one vanishing mid-run
        # failed the backup); `{db}_before_{ts}` copies stay in: they hold the operator's old tables.
        return [n for n in existing if n.lower() not in SYSTEM_DATABASES and not working_copy(n)]
    views = [name for name in names if name.lower() in STATE_SCHEMAS]
    if views:
        raise UsageError(
            f"{views[0]} shows the server's state and holds no data of its own: it is not backed up"
        )
    unknown = [name for name in names if name not in existing]
    if unknown:
        raise UsageError(f"unknown database {unknown[0]!r} on {db.host}:{db.port}")
    return list(dict.fromkeys(names))


def check_exclusions(db: DbSettings, databases: list[str], tables: Collection[str]) -> None:
    """Each table to leave out must be a table (or view) of at least one of `databases`: otherwise it is a
    typo. Leaving out every base table of a database is refused: its views over them go too (dump.py);
    so is leaving out a table that kept tables refer to by foreign key (mysql/foreign_keys.py)."""
    if not tables or not databases:
        return
    marks = ", ".join(["%s"] * len(databases))
    by_database: dict[str, set[str]] = {}
    known: set[str] = set()
    try:
        with connect(db, database="") as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES "
                f"WHERE TABLE_SCHEMA IN ({marks})",
                databases,
            )
            for schema, name, kind in cur.fetchall():
                known.add(text(name))
                held = by_database.setdefault(text(schema), set())
                if text(kind) != "VIEW":
                    held.add(text(name))
            refs = {database: references(cur, database) for database in databases}
    except pymysql.err.MySQLError as exc:  # (as in resolve_databases)
        raise connection_error(exc, db, None) from None
    unknown = [t for t in tables if t not in known]
    if unknown:
        raise UsageError(f"--exclude-table {unknown[0]}: no such table in {', '.join(databases)}")
    emptied = [name for name, held in by_database.items() if held and held <= set(tables)]
    if emptied:
        raise UsageError(
            f"--exclude-table names every table of {emptied[0]}: nothing of it would be backed up"
        )
    for database in databases:
        refuse_children_left_behind(refs[database], database, tables)


def backup_database(
    db: DbSettings,
    database: str,
    store: Storage,
    *,
    source: str,
    compression: Compression = "zstd",
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
    split_min_bytes: int = SPLIT_MIN_BYTES,
    jobs: int = JOBS,
    exclude_tables: Collection[str] = (),
    schema_only: bool = False,
) -> Manifest:
    """Dump `database` into `store` and commit it with its manifest.

    Tables of at least `split_min_bytes` are read on up to `jobs` connections at once, when the others
    can be opened in the same snapshot (mysql/shared_snapshot.py); otherwise everything is read on one.
    On a MySQL server that never pauses writing, the tables it reads are locked for a moment to pin
    the snapshot and its position (mysql/table_lock.py).
    """
    shown = progress or NoProgress()

    def check() -> None:
        if should_stop is not None and should_stop():
            raise BackupCancelled(f"backup of {database!r} stopped before it finished; nothing was kept")

    conn = connect(db, database=database)
    helpers: list[pymysql.connections.Connection] = []
    writer: FrameWriter | None = None
    kept_key: str | None = None  # the data object, once the store holds it whole
    try:
        try:
            # (in the try: the server may go away right here too, and that is said as for the dump)
            split_tables = _big_tables(conn, database, split_min_bytes) if jobs > 1 else set()
            helpers = _helper_connections(db, database, _spare(conn, jobs - 1)) if split_tables else []
            # Even alone: on MySQL this is what proves the binary log position is the snapshot's
            lock = TableLock(lambda: connect(db, database=database), database, frozenset(exclude_tables))
            with conn.cursor() as cur:
                created_before = creation_times(cur, database)  # before the snapshot: see mysql/renames.py
            snapshot, shared = open_shared_snapshot(conn, helpers, lock)
            if helpers and not shared:
                _close_all(helpers)
                helpers = []
            backup_id = new_backup_id()
            stem = backup_stem(source, database, snapshot.started_at, backup_id)
            writer = FrameWriter(store.open_writer(data_key(stem, compression)), compression)
            result = dump_database(
                conn,
                database,
                writer,
                snapshot,
                tool_version=__version__,
                progress=shown,
                check=check,
                helpers=helpers,
                split_tables=split_tables,
                exclude_tables=exclude_tables,
                schema_only=schema_only,
            )
            _check_not_renamed(db, database, created_before, exclude_tables)
            check()
            shown.state("uploading")  # the last part and the commit: a while on a slow link to S3
            frames, written = writer.commit()
            writer = None
            kept_key = written.key
            finished_at = datetime.now(UTC)
        except pymysql.err.MySQLError as exc:
            raise dump_error(exc, db, database) from None
        finally:
            if writer is not None:
                writer.abort()
            shown.end()
            _close_all([conn, *helpers])
        manifest = Manifest(
            id=backup_id,
            source=source,
            database=database,
            charset=result.charset,
            collation=result.collation,
            server=snapshot.server,
            started_at=snapshot.started_at,
            finished_at=finished_at,
            snapshot=snapshot.position,
            snapshot_taken_at=snapshot.taken_at,
            compression=compression,
            data=DataObject(key=written.key, size=written.size, sha256=written.sha256),
            frames=frames,
            counts=result.counts,
            tool_version=__version__,
            schema_only=schema_only,
            # (a view named to exclude is listed with the views left out, not as a table)
            excluded_tables=sorted(set(exclude_tables) - set(result.excluded_views)),
            unrestorable=result.unrestorable,
            excluded_views=result.excluded_views,
            excluded_triggers=result.excluded_triggers,
            programs_naming_excluded=result.programs_naming_excluded,
            lower_case_table_names=result.lower_case_table_names,
            name_case_references=result.name_case_references,
        )
        store.put_bytes(manifest_key(stem), manifest.to_json())
    except BaseException:
        # Anything from the data object's commit on (a failed manifest write, or a SIGTERM while the
        # connections close) leaves data nobody will list: it goes. A failed write may have landed (S3
        # stored it and the answer was lost; an interrupt after the local link): the manifest goes first,
        # and the data object only once it is surely gone, so no manifest is ever left pointing at a
        # deleted data object. Kept data without a manifest is never listed, and prune frees it after
        # ORPHANED_AFTER.
        if kept_key is not None and _delete_quietly(store, manifest_key(stem)):
            _delete_quietly(store, kept_key)
        raise
    return manifest


def _check_not_renamed(
    db: DbSettings, database: str, created_before: dict[str, object], exclude_tables: Collection[str]
) -> None:
    """Fail the dump if a table it read was swapped by RENAME meanwhile (mysql/renames.py).

    Read on a session of its own: MySQL shows its dictionary to a transaction as of its snapshot.
    """
    with closing(connect(db, database=database)) as conn, conn.cursor() as cur:
        read = set(created_before) - set(exclude_tables)
        check_not_renamed(created_before, creation_times(cur, database), read)


def dump_error(exc: pymysql.err.MySQLError, db: DbSettings, database: str) -> CloudBackupError:
    """One line saying what went wrong with the dump, and what to do about it."""
    code = exc.args[0] if exc.args else 0
    if code in (ER_TABLE_DEF_CHANGED, ER_NO_SUCH_TABLE, ER_BAD_FIELD):
        return OperationError(
            f"backup of {database!r} failed: a table changed definition or was dropped (DDL) while it was "
            f"dumped ({code}); nothing was kept, run the backup again"
        )
    if code in (ER_SP_DOES_NOT_EXIST, ER_TRG_DOES_NOT_EXIST, ER_EVENT_DOES_NOT_EXIST):
        return OperationError(
            f"backup of {database!r} failed: a routine, trigger or event was dropped (DDL) while it was "
            f"dumped ({code}); nothing was kept, run the backup again"
        )
    # pymysql's InterfaceError(0) is a query on a connection it closed when the server went away: a
    # step allowed to fail (sizing the tables) lost it, and the next query finds it closed (no code).
    closed = isinstance(exc, pymysql.err.InterfaceError) and code == 0
    if closed or code in (CR_SERVER_GONE, CR_SERVER_LOST, ER_CONNECTION_KILLED, ER_QUERY_INTERRUPTED):
        said = "" if closed else f" ({code})"
        return OperationError(
            f"backup of {database!r} failed: lost the connection to {db.host}:{db.port} "
            f"during the dump{said}; nothing was kept"
        )
    error = connection_error(exc, db, database)
    if isinstance(error, CloudBackupError):
        return error
    return OperationError(f"backup of {database!r} failed: {exc}")


def _big_tables(conn: pymysql.connections.Connection, database: str, min_bytes: int) -> set[str]:
    """The tables worth reading on several connections; none if the server cannot say (the dump goes on)."""
    try:
        with conn.cursor() as cur:
            return big_tables(cur, database, min_bytes)
    except pymysql.err.MySQLError as exc:
        log.info("reading with one connection: could not list the big tables (%s)", exc)
        return set()


def _spare(conn: pymysql.connections.Connection, wanted: int) -> int:
    """`wanted` helper connections, or fewer where the server has few slots to spare (connection_slots)."""
    with conn.cursor() as cur:
        spare = spare_connections(cur, wanted)
    if spare < wanted:
        log.warning(
            "reading with %d connection(s) of the %d asked for: the server's last slots stay free for others",
            spare + 1,
            wanted + 1,
        )
    return spare


def _helper_connections(db: DbSettings, database: str, count: int) -> list[pymysql.connections.Connection]:
    """Up to `count` more connections for reading big tables: as many as open.

    They are only a speed-up: if the server refuses one (max_connections, say) the dump goes on with
    those it has.
    """
    helpers: list[pymysql.connections.Connection] = []
    for _ in range(count):
        try:
            helpers.append(connect(db, database=database))
        except (CloudBackupError, pymysql.err.MySQLError) as exc:
            log.info("reading with %d connection(s): another could not open (%s)", len(helpers) + 1, exc)
            break
    return helpers


def _close_all(conns: list[pymysql.connections.Connection]) -> None:
    for conn in conns:
        try:
            conn.close()
        except Exception as exc:  # already gone (killed, lost): nothing left to release
            log.debug("closing a dump connection: %s", exc)


def _delete_quietly(store: Storage, key: str) -> bool:
    """Whether `key` is deleted (or was never there); a failure is logged, not raised."""
    try:
        store.delete(key)
    except Exception as exc:
        log.warning("could not delete %s: %s", store.location(key), exc)
        return False
    return True
