"""`cloudbackup list`: complete backups, newest first, each labelled with its store."""

from __future__ import annotations

import argparse
import json
import sys

from cloudbackup.catalog import (
    CatalogEntry,
    backups_of,
    describe_stores,
    latest_per_database,
    scan_backups,
    spelt_otherwise,
)
from cloudbackup.cli.stores import stores_from_args
from cloudbackup.cli.units import human_size
from cloudbackup.printable import one_line

COLUMNS = ("CREATED (UTC)", "STORE", "SOURCE", "DATABASE", "ID", "SIZE", "TABLES", "LOCATION")


def run(args: argparse.Namespace) -> int:
    stores = stores_from_args(args)
    catalog = scan_backups(stores.read, database=args.database, source=args.source)
    entries = catalog.entries
    # Refused manifests are not backups (restore, verify and prune refuse them too): named on stderr only,
    # so the listing (and `--json`) holds nothing a script could pick by mistake.
    for line in catalog.warnings():
        print(f"cloudbackup: warning: {line}", file=sys.stderr)
    if args.json:
        print(json.dumps([e.summary() for e in entries], indent=2))
        return 0
    if not entries:
        # Narrowed by --database/--source, "none" must say of what: the store itself may hold many.
        of = backups_of(args.database, args.source)
        hint = spelt_otherwise(stores.read, args.database, args.source)
        print(f"no complete backups{' ' + of if of else ''} in {describe_stores(stores.read)}{hint}")
        return 0
    print(render_table(entries))
    return 0


def render_table(entries: list[CatalogEntry]) -> str:
    """One row per backup; `*` marks the newest of each database (what `--backup latest` picks)."""
    latest = {id(e) for e in latest_per_database(entries)}
    rows = [COLUMNS]
    for e in entries:
        s = e.summary()
        rows.append(
            (
                s["created_at"].replace("T", " ").rstrip("Z"),
                s["store"],
                s["source"],
                s["database"],
                s["id"] + (" *" if id(e) in latest else ""),
                human_size(s["size"]),
                str(s["tables"]) + (" (partial)" if e.manifest.partial else ""),
                s["location"],
            )
        )
    shown = [[one_line(cell) for cell in row] for row in rows]  # names from the manifests, as text
    widths = [max(len(row[i]) for row in shown) for i in range(len(COLUMNS) - 1)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1]
        for row in shown
    ]
    lines.append("* newest of its source and database (what `--backup latest` picks for them)")
    if any(e.manifest.partial for e in entries):
        lines.append("(partial): tables left out or no rows; restored only by its id (`show` says what)")
    return "\n".join(lines)
