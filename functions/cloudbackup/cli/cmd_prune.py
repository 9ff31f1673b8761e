"""`cloudbackup prune`: delete old backups by count and age, per source and database, in ONE store.

The store is the bucket when --backup-bucket is given, else the local data directory: a newer backup in
the other store must never make this store's only copy look deletable.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime

from cloudbackup.catalog import (
    JSON_FORMAT,
    ORPHANED_AFTER,
    CatalogEntry,
    backups_of,
    prune,
    spelt_otherwise,
)
from cloudbackup.cli.stores import bucket_only_from_environment, stores_from_args
from cloudbackup.errors import OperationError, UsageError
from cloudbackup.printable import one_line


def run(args: argparse.Namespace) -> int:
    variable = bucket_only_from_environment(args)
    if args.data is not None and variable:
        # `prune --data DIR` in a shell whose profile sets the bucket: the store the command line names
        # is the directory, the one prune would delete in is the bucket. Which was meant is a guess.
        raise UsageError(
            f"--data {args.data} names the local store, but ${variable} names {os.environ[variable]}, "
            "and prune works on one store: unset the variable to prune --data, or leave out --data "
            "to prune the bucket"
        )
    stores = stores_from_args(args)
    result = prune(
        stores.write,
        keep_last=args.keep_last,
        keep_days=args.keep_days,
        now=datetime.now(UTC),
        database=args.database,
        source=args.source,
        dry_run=args.dry_run,
    )
    if args.json:
        print(
            json.dumps(
                {
                    "format": JSON_FORMAT,
                    "store": stores.write.describe(),
                    "dry_run": result.dry_run,
                    "deleted": [e.summary() for e in result.deleted],
                    "kept": [e.summary() for e in result.kept],
                    "failed": [{**e.summary(), "error": error} for e, error in result.failed],
                    "notes": result.notes,
                    "abandoned": [{"key": a.key, "size": a.size} for a in result.abandoned],
                    "orphaned": [
                        {"key": o.key, "size": o.size, "location": stores.write.location(o.key)}
                        for o in result.orphaned
                    ],
                },
                indent=2,
            )
        )
    else:
        verb = "would delete" if result.dry_run else "deleted"
        for entry in result.deleted:
            print(f"{verb} {_line(entry)}")
        print(f"{verb} {len(result.deleted)} backup(s), kept {len(result.kept)} in {stores.write.describe()}")
        for note in result.notes:
            print(f"note: {note}")
        if result.abandoned:
            size = sum(a.size for a in result.abandoned) / (1 << 20)
            verb = "would remove" if result.dry_run else "removed"
            print(
                f"{verb} {len(result.abandoned)} file(s) of backups killed before they finished "
                f"({size:.1f} MiB, untouched for a day or more)"
            )
        verb = "would delete" if result.dry_run else "deleted"
        for orphan in result.orphaned:
            print(
                one_line(
                    f"{verb} {stores.write.location(orphan.key)}: a data object without a manifest "
                    f"({orphan.size / (1 << 20):.1f} MiB, {ORPHANED_AFTER.days} days old or more: "
                    "a half-deleted backup's)"
                )
            )
    absent = stores.write.absence()
    if absent:
        # a mistyped --data: as `list` says, but on stderr, where a cron job's mail shows it
        print(
            one_line(
                f"cloudbackup: warning: {stores.write.describe()}{absent}: no backup in it, nothing to prune"
            ),
            file=sys.stderr,
        )
    elif (args.database or args.source) and not (result.deleted or result.kept or result.failed):
        # a typo in a cron line would otherwise prune nothing, every night, without a word
        named = backups_of(args.database, args.source)
        print(
            one_line(
                f"cloudbackup: warning: no backup {named} in {stores.write.describe()}: nothing to prune"
                + spelt_otherwise([stores.write], args.database, args.source)
            ),
            file=sys.stderr,
        )
    for entry, error in result.failed:
        print(f"cloudbackup: could not delete {_line(entry)}: {error}", file=sys.stderr)
    if result.failed:
        raise OperationError(f"{len(result.failed)} backup(s) could not be deleted (see above)")
    return 0


def _line(entry: CatalogEntry) -> str:
    s = entry.summary()
    return one_line(
        f"{s['id']} {s['source']}/{s['database']} {s['created_at']} [{s['store']}] {s['location']}"
    )
