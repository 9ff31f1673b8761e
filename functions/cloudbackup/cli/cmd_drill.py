"""`cloudbackup drill`: restore a backup into a scratch database, prove it, drop it; one line or JSON."""

from __future__ import annotations

import argparse
import json
import sys

from cloudbackup.catalog import JSON_FORMAT, find_backup
from cloudbackup.cli.backup_ref import backup_in_a_store
from cloudbackup.cli.database import db_from_args
from cloudbackup.cli.partial import left_out
from cloudbackup.cli.stores import stores_from_args
from cloudbackup.drill.proof import DrillFailed
from cloudbackup.drill.run import DrillResult, run_drill
from cloudbackup.errors import UsageError
from cloudbackup.printable import one_line
from cloudbackup.progress import for_terminal


def run(args: argparse.Namespace) -> int:
    db = db_from_args(args)  # --db-password-file too, as backup and restore
    if db.database and db.database != args.database:
        # The drill restores --database's backup into a scratch database and never touches the one the
        # URL names: which of the two the operator meant to prove is a guess, and a refusal loses nothing.
        raise UsageError(
            f"--db-url names database {db.database!r} and --database {args.database!r}: the drill proves "
            "--database's backup in a scratch database; drop the database from --db-url"
        )
    backup_in_a_store(args.backup, "drill")
    stores = stores_from_args(args)
    entry = find_backup(
        stores.read, args.backup, database=args.database, source=args.source, newest_must_restore=True
    )
    try:
        result = run_drill(db, entry, progress=for_terminal())
    except DrillFailed as exc:
        if args.json:
            print(
                json.dumps(
                    {
                        "format": JSON_FORMAT,
                        "backup_id": entry.id,
                        "database": args.database,
                        "verified": False,
                        "error": str(exc),
                    }
                )
            )
        print(f"cloudbackup: {one_line(str(exc))}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"format": JSON_FORMAT, **result.model_dump(mode="json")}, indent=2))
    else:
        print(one_line(summary(result)))
    return 0


def summary(result: DrillResult) -> str:
    line = (
        f"drill OK: backup {result.backup_id} of {result.database} restored and verified: "
        f"{result.tables} tables, {result.rows:,} rows, restore {result.restore_seconds:.1f} s, "
        f"{result.seconds:.1f} s in all"
    )
    if result.schema_only:
        line += "; a schema-only backup: it holds no rows, so none were proven"
    if result.excluded_tables or result.excluded_views or result.excluded_triggers:
        line += "; " + left_out(
            result.excluded_tables,
            result.excluded_views,
            result.excluded_triggers,
            result.programs_naming_excluded,
        )
    return line
