"""`cloudbackup backup`: one backup per database named, one line (or a JSON array) per backup."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any

from cloudbackup.backup import backup_database, check_exclusions, default_source, resolve_databases
from cloudbackup.catalog import CatalogEntry
from cloudbackup.cli.database import db_from_args
from cloudbackup.cli.stores import stores_from_args
from cloudbackup.cli.units import human_size
from cloudbackup.dburl import DbSettings
from cloudbackup.errors import CloudBackupError, UsageError
from cloudbackup.format.keys import backup_stem, manifest_key
from cloudbackup.format.manifest import Manifest
from cloudbackup.mysql.connection import Unreachable, connect
from cloudbackup.mysql.parallel import JOBS
from cloudbackup.mysql.staging import schema_exists
from cloudbackup.printable import one_line
from cloudbackup.progress import Progress, for_terminal
from cloudbackup.storage.base import Storage

log = logging.getLogger(__name__)


def run(args: argparse.Namespace) -> int:
    db = db_from_args(args)
    jobs = JOBS if args.jobs is None else args.jobs
    if jobs < 1:
        raise UsageError(f"--jobs {jobs}: needs at least 1 connection")
    stores = stores_from_args(args)
    check_writable = getattr(stores.write, "check_writable", None)
    if check_writable is not None:
        check_writable()
    names = _requested(args, db.database)
    databases = resolve_databases(db, names)
    if not databases:
        raise UsageError(f"no database to back up on {db.host}:{db.port}")
    check_exclusions(db, databases, args.exclude_table or ())
    source = args.source or default_source(db)
    progress = for_terminal()
    summaries: list[dict[str, Any]] = []
    failed = 0
    for done, database in enumerate(databases):
        try:
            manifest = _back_up(args, db, database, stores.write, source=source, progress=progress, jobs=jobs)
        except Unreachable as exc:  # it answered when the run began: gone since (a crash, a failover)
            rest = databases[done:]
            log.warning("%s", one_line(f"{', '.join(rest)}: not backed up: {exc}, which answered earlier"))
            failed += len(rest)
            break
        if manifest is None:
            failed += 1
            continue
        key = manifest_key(backup_stem(source, database, manifest.started_at, manifest.id))
        summary = CatalogEntry(manifest=manifest, store=stores.write, manifest_key=key).summary()
        summaries.append(summary)
        if not args.json:
            print(one_line(result_line(summary, manifest, width=max(len(d) for d in databases))), flush=True)
    if args.json:
        json.dump(summaries, sys.stdout, indent=2)
        sys.stdout.write("\n")
    return 1 if failed else 0


def _back_up(
    args: argparse.Namespace,
    db: DbSettings,
    database: str,
    store: Storage,
    *,
    source: str,
    progress: Progress,
    jobs: int,
) -> Manifest | None:
    """One database's backup, or None (said in one warning line) when it failed on its own."""
    try:
        return backup_database(
            db.with_database(database),
            database,
            store,
            source=source,
            compression=args.compression,
            progress=progress,
            jobs=jobs,
            exclude_tables=args.exclude_table or (),
            schema_only=args.schema_only,
        )
    except CloudBackupError as exc:
        gone = not _exists(db, database)
        if isinstance(exc, UsageError) and not gone:
            raise  # a store's or the credentials' fault: every database would fail alike (exit 2)
        # As the Lambda's run does: one database failing keeps no other from its backup (exit 1).
        reason = "dropped since the databases were listed" if gone else str(exc)
        log.warning("%s", one_line(f"{database}: not backed up: {reason}"))
        return None


def _exists(db: DbSettings, database: str) -> bool:
    """Whether `database` is on the server; True when that cannot be asked (never claim it dropped)."""
    try:
        with connect(db, database="") as conn, conn.cursor() as cur:
            return schema_exists(cur, database)
    except CloudBackupError:
        return True


def result_line(summary: dict[str, Any], manifest: Manifest, *, width: int) -> str:
    """`ID  DATABASE  SIZE  ROWS rows  SECONDS s  RATE  LOCATION`, columns aligned across the databases
    of one run (ids have one length; names are padded to the longest)."""
    seconds = max((manifest.finished_at - manifest.started_at).total_seconds(), 0.0)
    sql_bytes = manifest.sql_bytes
    rate = human_size(int(sql_bytes / seconds)) + "/s" if seconds > 0 else "-"
    return (
        f"{summary['id']}  {manifest.database:<{width}}  {human_size(summary['size']):>10}  "
        f"{summary['rows']:>13,} rows  {seconds:>8.1f} s  {rate:>12}  {summary['location']}"
    )


def _requested(args: argparse.Namespace, url_database: str | None) -> list[str] | None:
    if args.all_databases:
        return None
    if args.database:
        if url_database and url_database not in args.database:
            # (not refused: a cron line naming both goes on backing up what --database names)
            log.warning(
                "%s",
                one_line(
                    f"--db-url names database {url_database}, which is not backed up: --database names "
                    f"what is ({', '.join(args.database)})"
                ),
            )
        return list(args.database)
    if url_database:
        return [url_database]
    raise UsageError("name the database: in --db-url (…/NAME), with --database NAME, or --all-databases")
