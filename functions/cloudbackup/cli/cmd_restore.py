"""`cloudbackup restore`: a backup (id or `latest`) or a plain dump file, into a new database or in place.

The restore engine (cloudbackup.restore) is imported once the backup is found, not with this module:
its check's second process (confine/lane_start.py) starts first and gets ready meanwhile."""

from __future__ import annotations

import argparse
import json
import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cloudbackup.catalog import JSON_FORMAT, CatalogEntry, find_backup
from cloudbackup.cli.backup_ref import file_named_like, names_a_file
from cloudbackup.cli.database import db_from_args
from cloudbackup.cli.partial import left_out
from cloudbackup.cli.stores import stores_from_args
from cloudbackup.confine.lane_start import start_ahead
from cloudbackup.dburl import DbSettings
from cloudbackup.errors import UsageError
from cloudbackup.printable import one_line
from cloudbackup.progress import for_terminal

if TYPE_CHECKING:
    from cloudbackup.restore import RestoreResult


def run(args: argparse.Namespace) -> int:
    db = db_from_args(args)
    if args.jobs < 1:
        raise UsageError(f"--jobs {args.jobs}: needs at least 1 connection")
    if args.to_time is not None:
        return _to_time(args, db)
    if args.backup is None:
        newest = f"--backup latest for the newest of {args.database}, " if args.database else ""
        raise UsageError(f"say what to restore: {newest}--backup ID|latest|FILE, or --to-time TIME")
    common = {
        "in_place": args.in_place,
        "definer": args.definer,
        "jobs": args.jobs,
        "dry_run": args.dry_run,
        "schema_only": args.schema_only,
        "progress": for_terminal(),
    }
    ask = args.in_place and not (args.yes or args.dry_run)
    target_named = named_target(args, db)
    if names_a_file(args.backup):
        from cloudbackup.cli.confirm import confirm_in_place
        from cloudbackup.restore import restore_dump_file

        if args.table or args.exclude_table:
            flag = "--table" if args.table else "--exclude-table"
            raise UsageError(f"{flag} needs a backup with a frame index, not a plain dump file")
        picks_a_backup(args)
        target = target_named
        if args.in_place and not target:  # ("needs --target-database" would send them to a refusal)
            raise UsageError(
                "--in-place replaces the database --db-url names, and it names none: "
                f"add it (mysql://…/NAME) to restore the file {args.backup} in place"
            )
        if ask and target:
            confirm_in_place(target, f"the dump file {args.backup}", server=server_of(db))
        result = restore_dump_file(db, args.backup, target_database=target, **common)
        origin = ("file", os.path.abspath(args.backup))
    else:
        stores = stores_from_args(args)
        try:
            entry = find_backup(stores.read, args.backup, database=args.database, source=args.source)
        except UsageError as exc:
            hint = file_named_like(args.backup)
            if not hint:
                raise
            raise UsageError(str(exc) + hint) from None
        start_ahead(entry.manifest.sql_bytes)  # (see the module's doc)
        from cloudbackup.cli.confirm import confirm_in_place
        from cloudbackup.restore import restore_backup

        if args.in_place:
            same_database_in_place(db, entry.manifest.database)
        if ask:
            store, location = where(entry)
            confirm_in_place(
                entry.manifest.database, f"backup {entry.id} ({store} {location})", server=server_of(db)
            )
        result = restore_backup(
            db,
            entry,
            target_database=args.target_database if args.in_place else target_named,
            tables=args.table,
            exclude_tables=args.exclude_table,
            **common,
        )
        origin = where(entry)
    if args.json:
        print(json.dumps(as_json(result, origin), indent=2))
    else:
        print(dry_run_summary(result, origin) if result.dry_run else one_line(summary(result, origin)))
    return 0


def picks_a_backup(args: argparse.Namespace) -> None:
    """--database and --source choose a backup in a store; with a dump file they chose nothing and
    were dropped without a word (an operator meaning `--database` as the target got another one)."""
    for flag, given in (("--database", args.database), ("--source", args.source)):
        if given:
            raise UsageError(
                f"{flag} {given} picks a backup in a store, but --backup {args.backup} is a dump file, "
                "restored whole: drop it (the target is --target-database NEW or the database in --db-url)"
            )


def where(entry: CatalogEntry) -> tuple[str, str]:
    """(store, location) of a backup's data object: which store `latest` or an id resolved to."""
    return entry.store.kind, entry.store.location(entry.manifest.data.key)


def as_json(result: RestoreResult, origin: tuple[str, str]) -> dict[str, Any]:
    store, location = origin
    return {"format": JSON_FORMAT, **result.model_dump(mode="json"), "store": store, "location": location}


def _to_time(args: argparse.Namespace, db: DbSettings) -> int:
    from cloudbackup.binlog.pitr import restore_to_time
    from cloudbackup.cli.confirm import confirm_in_place

    if args.backup is not None or args.table:
        raise UsageError(
            "--to-time picks its backup itself and restores whole databases: drop --backup/--table"
        )
    for flag, given in (
        ("--exclude-table", args.exclude_table),
        ("--schema-only", args.schema_only),
    ):
        if given:
            raise UsageError(f"{flag} does not apply to --to-time (a whole database, replayed to a time)")
    if not args.database:
        raise UsageError("--to-time needs --database NAME (the backed-up database)")
    if not args.target_database and not args.in_place:
        raise UsageError("--to-time needs --target-database NEW or --in-place")
    target_named = named_target(args, db)
    if args.in_place:
        same_database_in_place(db, args.database)
    when = parse_time(args.to_time)
    if args.in_place and not (args.yes or args.dry_run):
        confirm_in_place(
            args.database,
            f"its newest backup before {args.to_time} and the binlog up to then",
            server=server_of(db),
        )
    result = restore_to_time(
        db,
        stores_from_args(args).read,
        args.database,
        when,
        target_database=args.target_database if args.in_place else target_named,
        in_place=args.in_place,
        source=args.source,
        definer=args.definer,
        jobs=args.jobs,
        dry_run=args.dry_run,
        progress=for_terminal(),
    )
    if args.json:
        print(json.dumps({"format": JSON_FORMAT, **result.model_dump(mode="json")}, indent=2))
    elif result.dry_run:
        replay = (
            f"then would replay the archived binlog from {result.binlog_from} up to {result.to_time} "
            f"({result.binlog_segments} segments, verified)"
        )
        print(dry_run_summary(result, (result.store, result.location)) + "\n" + one_line(replay))
    else:
        print(
            one_line(
                f"{summary(result)}; then {result.binlog_transactions:,} transactions "
                f"({result.binlog_events:,} binlog events) up to {result.to_time}"
            )
        )
    return 0


def server_of(db: DbSettings) -> str:
    """The server as the operator named it in --db-url: the question says where it replaces."""
    return f"{db.host}:{db.port}"


def named_target(args: argparse.Namespace, db: DbSettings) -> str | None:
    """--target-database, or else the database --db-url names. When both name one, they must agree:
    which of two names a restore writes into is not a thing to guess."""
    if args.target_database and db.database and args.target_database != db.database:
        raise UsageError(
            f"--db-url names database {db.database!r} and --target-database {args.target_database!r}: "
            "name the target once"
        )
    return args.target_database or db.database


def same_database_in_place(db: DbSettings, replaced: str) -> None:
    """--in-place replaces the backed-up database: a --db-url naming another one is a mistake."""
    if db.database and db.database != replaced:
        raise UsageError(
            f"--in-place replaces database {replaced!r} (the backup's), but --db-url names {db.database!r}: "
            "drop the database from --db-url, or use --target-database"
        )


def parse_time(text: str) -> datetime:
    """ISO 8601 with a zone (Z or an offset): a local time would mean different moments on different hosts.
    RFC 3339's lower-case `t` and `z` are read too, and the blanks a copy from a log line brings along."""
    try:
        moment = datetime.fromisoformat(text.strip().upper())  # (no other letter is part of such a time)
    except ValueError:
        raise UsageError(f"--to-time {text}: not an ISO 8601 time such as 2026-12-03T14:02:00Z") from None
    if moment.tzinfo is None:
        raise UsageError(f"--to-time {text}: say the time zone (Z for UTC, or an offset such as +01:00)")
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59-01:00: past the calendar's end in UTC
        raise UsageError(f"--to-time {text}: out of range once in UTC (years 1 to 9999)") from None


def summary(result: RestoreResult, origin: tuple[str, str] | None = None) -> str:
    line = (
        f"restored {restored_what(result)} into {result.target_database}: "
        f"{result.tables} tables, {result.rows:,} rows in {result.seconds:.1f} s"
    )
    if origin is not None:
        store, location = origin
        line += f"; from {store} {location}"
    if result.previous_tables_kept_in:
        line += f"; previous tables kept in {result.previous_tables_kept_in}"
    if result.definers_rewritten:
        line += f"; DEFINER set to the restoring user for: {', '.join(result.definers_rewritten)}"
    if result.backup_excluded_tables or result.backup_excluded_views or result.backup_excluded_triggers:
        line += "; " + left_out(
            result.backup_excluded_tables,
            result.backup_excluded_views,
            result.backup_excluded_triggers,
            result.backup_programs_naming_excluded,
        )
    if result.triggers_left_out:
        line += (
            f"; triggers left out: {', '.join(result.triggers_left_out)} (they name tables that neither "
            "this restore nor the target holds, and would fail at their first use)"
        )
    return line


def restored_what(result: RestoreResult) -> str:
    """A backup by its id and database; a dump file by its name (a file names no database)."""
    if result.backup_id:
        return f"backup {result.backup_id} of {result.source_database}"
    named = result.dump_file or result.source_database
    of = f" (database {result.source_database})" if result.source_database != named else ""
    return f"the file {named}{of}"


def dry_run_summary(result: RestoreResult, origin: tuple[str, str]) -> str:
    """What a real run would create or replace; the backup was verified, nothing was changed."""
    store, location = origin
    what = f"backup {result.backup_id}" if result.backup_id else result.source_database
    checked = "verified" if result.backup_id else "found"
    lines = [f"dry run: {what} {checked} ({store} {location}); nothing was changed"]
    kept = f"{result.target_database}_before_<time of the swap>"
    if result.replaces and result.some_tables:
        lines.append(
            f"would replace only these tables of database {result.target_database} "
            f"({', '.join(result.replaces)} now), keeping the ones it replaces in {kept}"
        )
    elif result.replaces:
        lines.append(
            f"would replace database {result.target_database} ({', '.join(result.replaces)}), "
            f"keeping its current tables in {kept}"
        )
    else:
        lines.append(f"would create database {result.target_database}")
    if result.restored_tables:
        lines.append(f"with {result.tables} tables: {', '.join(result.restored_tables)}")
    return "\n".join(one_line(line) for line in lines)  # (names escaped line by line)
