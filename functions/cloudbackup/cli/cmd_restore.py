"""`cloudbackup restore`: a backup (id or `latest`) or a plain dump file, into a new database or in place."""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime

from cloudbackup.catalog import find_backup
from cloudbackup.cli.database import db_from_args
from cloudbackup.cli.stores import stores_from_args
from cloudbackup.dburl import DbSettings
from cloudbackup.errors import UsageError
from cloudbackup.progress import for_terminal
from cloudbackup.restore import RestoreResult, restore_backup, restore_dump_file


def run(args: argparse.Namespace) -> int:
    db = db_from_args(args)
    if args.jobs < 1:
        raise UsageError(f"--jobs {args.jobs}: needs at least 1 connection")
    if args.to_time is not None:
        return _to_time(args, db)
    if args.backup is None:
        raise UsageError("say what to restore: --backup ID|latest|FILE, or --to-time TIME")
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


def _to_time(args: argparse.Namespace, db: DbSettings) -> int:
    from cloudbackup.binlog.pitr import restore_to_time

    if args.backup is not None or args.table:
        raise UsageError(
            "--to-time picks its backup itself and restores whole databases: drop --backup/--table"
        )
    if not args.database:
        raise UsageError("--to-time needs --database NAME (the backed-up database)")
    if not args.target_database and not args.in_place:
        raise UsageError("--to-time needs --target-database NEW or --in-place")
    result = restore_to_time(
        db,
        stores_from_args(args).read,
        args.database,
        parse_time(args.to_time),
        target_database=args.target_database,
        in_place=args.in_place,
        source=args.source,
        definer=args.definer,
        jobs=args.jobs,
        progress=for_terminal(),
    )
    if args.json:
        print(result.model_dump_json(indent=2))
    else:
        print(
            f"{summary(result)}; then {result.binlog_transactions:,} transactions "
            f"({result.binlog_events:,} binlog events) up to {result.to_time}"
        )
    return 0


def parse_time(text: str) -> datetime:
    """ISO 8601 with a zone (Z or an offset): a local time would mean different moments on different hosts."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--to-time {text}: not an ISO 8601 time such as 2026-12-03T14:02:00Z") from None
    if moment.tzinfo is None:
        raise UsageError(f"--to-time {text}: say the time zone (Z for UTC, or an offset such as +01:00)")
    return moment.astimezone(UTC)


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
