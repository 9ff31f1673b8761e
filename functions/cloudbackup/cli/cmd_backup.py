"""`cloudbackup backup`: one backup per database named, one line (or a JSON array) per backup."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from cloudbackup.backup import backup_database, default_source, resolve_databases
from cloudbackup.catalog import CatalogEntry
from cloudbackup.cli.database import db_from_args
from cloudbackup.cli.stores import stores_from_args
from cloudbackup.cli.units import human_size
from cloudbackup.errors import UsageError
from cloudbackup.format.keys import backup_stem, manifest_key
from cloudbackup.mysql.parallel import JOBS
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
        )
        key = manifest_key(backup_stem(source, database, manifest.started_at, manifest.id))
        summary = CatalogEntry(manifest=manifest, store=stores.write, manifest_key=key).summary()
        summaries.append(summary)
        if not args.json:
            size = human_size(summary["size"])
            print(f"{summary['id']}  {database}  {size}  {summary['location']}", flush=True)
    if args.json:
        json.dump(summaries, sys.stdout, indent=2)
        sys.stdout.write("\n")
    return 0


def _requested(args: argparse.Namespace, url_database: str | None) -> list[str] | None:
    if args.all_databases:
        return None
    if args.database:
        return list(args.database)
    if url_database:
        return [url_database]
    raise UsageError("name the database: in --db-url (…/NAME), with --database NAME, or --all-databases")
