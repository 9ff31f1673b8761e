"""`cloudbackup binlog archive|status`: archive the server's binary log, show the recoverable windows."""

from __future__ import annotations

import argparse
import json
import sys
import threading

from cloudbackup.backup import default_source
from cloudbackup.binlog.archive import archive_binlog
from cloudbackup.binlog.status import binlog_status, describe
from cloudbackup.catalog import JSON_FORMAT, describe_stores
from cloudbackup.cli.database import db_from_args
from cloudbackup.cli.stores import stores_from_args
from cloudbackup.errors import UsageError
from cloudbackup.printable import one_line
from cloudbackup.stopping import stop_on_signals


def run(args: argparse.Namespace) -> int:
    if args.binlog_command == "status":
        return _status(args)
    return _archive(args)


def _archive(args: argparse.Namespace) -> int:
    db = db_from_args(args)  # --db-password-file too
    if db.database:
        # The binary log is the server's: the archive holds every database's events, whatever the URL
        # names. Taking the name silently would let an operator believe only that database is archived.
        raise UsageError(
            f"--db-url names database {db.database!r}, but the binlog archive covers every database "
            "on the server: drop the database from --db-url"
        )
    stores = stores_from_args(args)
    source = args.source or default_source(db)
    # Stopping a follower is its normal end: commit what was read (within a second), exit 0.
    stop = stop_on_signals() if args.follow else threading.Event()
    result = archive_binlog(db, stores.write, source, follow=args.follow, should_stop=stop.is_set)
    if result.gap:
        print(f"cloudbackup: binlog gap on {source}: {result.gap}", file=sys.stderr)
    if result.overtaken:
        # Exit 0 all the same: the archive is whole and the other run goes on with it
        print(f"cloudbackup: {result.overtaken}", file=sys.stderr)
    if args.json:
        print(json.dumps({"format": JSON_FORMAT, **result.model_dump(mode="json")}, indent=2))
    else:
        print(
            f"archived {result.events:,} binlog events of {source} in {result.segments} segments "
            f"({result.bytes:,} bytes); archive ends at {result.position or 'nothing yet'}"
            + (f", newest event {result.newest_event_time}" if result.newest_event_time else "")
        )
    # A gap ends the recoverable window until the next backup: exit 1, so a scheduler's alert fires
    # (what was there was archived all the same, and the next run goes on after the gap).
    return 1 if result.gap else 0


def _status(args: argparse.Namespace) -> int:
    stores = stores_from_args(args).read
    windows = binlog_status(stores)
    if args.json:
        print(json.dumps([{"format": JSON_FORMAT, **w.model_dump()} for w in windows], indent=2))
    elif not windows:
        # where it looked, as `list` says: a mistyped --data shows as "(no such directory)"
        print(one_line(f"no archived binary log in {describe_stores(stores)}"))
    else:
        for window in windows:
            print(one_line(describe(window)))
    return 0
