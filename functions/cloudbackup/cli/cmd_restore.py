"""`cloudbackup restore`: a backup (id or `latest`) or a plain dump file, into a new database or in place."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from cloudbackup.catalog import JSON_FORMAT, CatalogEntry, find_backup
from cloudbackup.cli.confirm import confirm_in_place
from cloudbackup.cli.database import db_from_args
from cloudbackup.cli.stores import stores_from_args
from cloudbackup.errors import UsageError
from cloudbackup.progress import for_terminal
from cloudbackup.restore import RestoreResult, restore_backup, restore_dump_file


def run(args: argparse.Namespace) -> int:
    db = db_from_args(args)
    if args.jobs < 1:
        raise UsageError(f"--jobs {args.jobs}: needs at least 1 connection")
    common = {
        "in_place": args.in_place,
        "definer": args.definer,
        "jobs": args.jobs,
        "dry_run": args.dry_run,
        "schema_only": args.schema_only,
        "progress": for_terminal(),
    }
    ask = args.in_place and not (args.yes or args.dry_run)
    if os.path.isfile(args.backup) or os.sep in args.backup or args.backup.endswith((".sql", ".gz", ".zst")):
        if args.table or args.exclude_table:
            flag = "--table" if args.table else "--exclude-table"
            raise UsageError(f"{flag} needs a backup with a frame index, not a plain dump file")
        target = args.target_database or (db.database if not args.in_place else None) or db.database
        if ask and target:
            confirm_in_place(target, f"the dump file {args.backup}")
        result = restore_dump_file(db, args.backup, target_database=target, **common)
        origin = ("file", os.path.abspath(args.backup))
    else:
        stores = stores_from_args(args)
        entry = find_backup(stores.read, args.backup, database=args.database, source=args.source)
        if ask:
            store, location = where(entry)
            confirm_in_place(entry.manifest.database, f"backup {entry.id} ({store} {location})")
        result = restore_backup(
            db,
            entry,
            target_database=args.target_database,
            tables=args.table,
            exclude_tables=args.exclude_table,
            **common,
        )
        origin = where(entry)
    if args.json:
        print(json.dumps(as_json(result, origin), indent=2))
    else:
        print(dry_run_summary(result, origin) if result.dry_run else summary(result, origin))
    return 0


def where(entry: CatalogEntry) -> tuple[str, str]:
    """(store, location) of a backup's data object: which store `latest` or an id resolved to."""
    return entry.store.kind, entry.store.location(entry.manifest.data.key)


def as_json(result: RestoreResult, origin: tuple[str, str]) -> dict[str, Any]:
    store, location = origin
    return {"format": JSON_FORMAT, **result.model_dump(mode="json"), "store": store, "location": location}


def summary(result: RestoreResult, origin: tuple[str, str]) -> str:
    store, location = origin
    what = f"backup {result.backup_id}" if result.backup_id else result.source_database
    line = (
        f"restored {what} of {result.source_database} into {result.target_database}: "
        f"{result.tables} tables, {result.rows:,} rows in {result.seconds:.1f} s; from {store} {location}"
    )
    if result.previous_tables_kept_in:
        line += f"; previous tables kept in {result.previous_tables_kept_in}"
    if result.definers_rewritten:
        line += f"; DEFINER set to the restoring user for: {', '.join(result.definers_rewritten)}"
    return line


def dry_run_summary(result: RestoreResult, origin: tuple[str, str]) -> str:
    """What a real run would create or replace; the backup was verified, nothing was changed."""
    store, location = origin
    what = f"backup {result.backup_id}" if result.backup_id else result.source_database
    checked = "verified" if result.backup_id else "found"
    lines = [f"dry run: {what} {checked} ({store} {location}); nothing was changed"]
    if result.replaces:
        lines.append(
            f"would replace database {result.target_database} ({', '.join(result.replaces)}), "
            f"keeping its current tables in {result.target_database}_before_<time of the swap>"
        )
    else:
        lines.append(f"would create database {result.target_database}")
    if result.restored_tables:
        lines.append(f"with {result.tables} tables: {', '.join(result.restored_tables)}")
    return "\n".join(lines)
