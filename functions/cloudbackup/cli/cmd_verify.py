"""`cloudbackup verify`: check one backup against its manifest; prints OK or FAILED."""

from __future__ import annotations

import argparse
import json
import sys

from cloudbackup.catalog import JSON_FORMAT, find_backup
from cloudbackup.cli.backup_ref import backup_in_a_store
from cloudbackup.cli.partial import left_out
from cloudbackup.cli.stores import stores_from_args
from cloudbackup.errors import IntegrityError
from cloudbackup.printable import one_line
from cloudbackup.verify import verify_backup


def run(args: argparse.Namespace) -> int:
    backup_in_a_store(args.backup, "verify")
    stores = stores_from_args(args)
    entry = find_backup(stores.read, args.backup, database=args.database, source=args.source)
    store, location = entry.store.kind, entry.store.location(entry.manifest.data.key)
    head = {"format": JSON_FORMAT, "id": entry.id, "store": store, "location": location}
    try:
        result = verify_backup(entry)
    except IntegrityError as exc:
        if args.json:
            print(json.dumps({**head, "database": entry.manifest.database, "ok": False, "error": str(exc)}))
        else:
            print(one_line(f"FAILED {entry.id} {entry.manifest.database} ({store} {location}): {exc}"))
        print(f"cloudbackup: verify failed: {one_line(str(exc))}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({**head, **result.model_dump(mode="json"), "store": store}, indent=2))
    else:
        partial = (
            "; "
            + left_out(
                result.excluded_tables,
                result.excluded_views,
                result.excluded_triggers,
                result.programs_naming_excluded,
            )
            if result.excluded_tables or result.excluded_views or result.excluded_triggers
            else ""
        )
        print(
            one_line(
                f"OK {result.id} {result.database} ({store} {location}): "
                f"{result.size:,} bytes, sha256 {result.sha256}, "
                f"{result.frames} frames decode ({result.tables} tables, {result.raw_bytes:,} bytes of SQL)"
                + partial
            )
        )
    for line in result.unrestorable:  # intact, but a restore refuses it: said, not a failure
        print(
            f"cloudbackup: warning: {one_line(line)}: every restore of this backup will refuse it as it is",
            file=sys.stderr,
        )
    return 0
