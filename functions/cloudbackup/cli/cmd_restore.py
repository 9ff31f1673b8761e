"""`cloudbackup restore`: a backup (id or `latest`) or a plain dump file, into a new database or in place."""

from __future__ import annotations

import argparse
import os

from cloudbackup.catalog import find_backup
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
        "progress": for_terminal(),
    }
    if os.path.isfile(args.backup) or os.sep in args.backup or args.backup.endswith((".sql", ".gz", ".zst")):
        if args.table:
            raise UsageError("--table needs a backup with a frame index, not a plain dump file")
        target = args.target_database or (db.database if not args.in_place else None) or db.database
        result = restore_dump_file(db, args.backup, target_database=target, **common)
    else:
        stores = stores_from_args(args)
        entry = find_backup(stores.read, args.backup, database=args.database, source=args.source)
        result = restore_backup(
            db,
            entry,
            target_database=args.target_database,
            tables=args.table,
            **common,
        )
    print(result.model_dump_json(indent=2) if args.json else summary(result))
    return 0


def summary(result: RestoreResult) -> str:
    what = f"backup {result.backup_id}" if result.backup_id else result.source_database
    line = (
        f"restored {what} of {result.source_database} into {result.target_database}: "
        f"{result.tables} tables, {result.rows:,} rows in {result.seconds:.1f} s"
    )
    if result.previous_tables_kept_in:
        line += f"; previous tables kept in {result.previous_tables_kept_in}"
    if result.definers_rewritten:
        line += f"; DEFINER set to the restoring user for: {', '.join(result.definers_rewritten)}"
    return line
