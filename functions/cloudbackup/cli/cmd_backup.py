"""`cloudbackup backup`: one backup per database named, one line (or a JSON array) per backup."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from cloudbackup.backup import backup_database, check_exclusions, default_source, resolve_databases
from cloudbackup.catalog import CatalogEntry
from cloudbackup.cli.database import db_from_args
from cloudbackup.cli.stores import stores_from_args
from cloudbackup.cli.units import human_size
from cloudbackup.errors import UsageError
from cloudbackup.format.keys import backup_stem, manifest_key
from cloudbackup.format.manifest import Manifest
from cloudbackup.mysql.parallel import JOBS
from cloudbackup.printable import one_line
from cloudbackup.progress import for_terminal


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
    for database in databases:
        manifest = backup_database(
            db.with_database(database),
            database,
            stores.write,
            source=source,
            compression=args.compression,
            progress=progress,
            jobs=jobs,
            exclude_tables=args.exclude_table or (),
            schema_only=args.schema_only,
        )
        key = manifest_key(backup_stem(source, database, manifest.started_at, manifest.id))
        summary = CatalogEntry(manifest=manifest, store=stores.write, manifest_key=key).summary()
        summaries.append(summary)
        if not args.json:
            print(one_line(result_line(summary, manifest, width=max(len(d) for d in databases))), flush=True)
    if args.json:
        json.dump(summaries, sys.stdout, indent=2)
        sys.stdout.write("\n")
    return 0


def result_line(summary: dict[str, Any], manifest: Manifest, *, width: int) -> str:
    """`ID  DATABASE  SIZE  ROWS rows  SECONDS s  RATE  LOCATION`, columns aligned across the databases
    of one run (ids have one length; names are padded to the longest)."""
    seconds = max((manifest.finished_at - manifest.started_at).total_seconds(), 0.0)
    sql_bytes = sum(f.raw_length for f in manifest.frames)
    rate = human_size(int(sql_bytes / seconds)) + "/s" if seconds > 0 else "-"
    return (
        f"{summary['id']}  {manifest.database:<{width}}  {human_size(summary['size']):>10}  "
        f"{summary['rows']:>13,} rows  {seconds:>8.1f} s  {rate:>12}  {summary['location']}"
    )


def _requested(args: argparse.Namespace, url_database: str | None) -> list[str] | None:
    if args.all_databases:
        return None
    if args.database:
        return list(args.database)
    if url_database:
        return [url_database]
    raise UsageError("name the database: in --db-url (…/NAME), with --database NAME, or --all-databases")
