"""`cloudbackup show`: one backup's manifest for a person (or as JSON): what it holds and where it is."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any

from cloudbackup.catalog import CatalogEntry, find_backup
from cloudbackup.cli.backup_ref import backup_in_a_store
from cloudbackup.cli.stores import stores_from_args
from cloudbackup.cli.units import human_size
from cloudbackup.format.manifest import utc_text
from cloudbackup.printable import one_line


def run(args: argparse.Namespace) -> int:
    backup_in_a_store(args.backup, "show")
    stores = stores_from_args(args)
    entry = find_backup(stores.read, args.backup, database=args.database, source=args.source)
    document = details(entry)
    print(json.dumps(document, indent=2) if args.json else render(document))
    return 0


def details(entry: CatalogEntry) -> dict[str, Any]:
    """`list --json`'s object, grown with the rest of the manifest (README: JSON output)."""
    m = entry.manifest
    return {
        **entry.summary(),
        "charset": m.charset,
        "collation": m.collation,
        "server_flavour": m.server.flavour,
        "seconds": round((m.finished_at - m.started_at).total_seconds(), 3),
        "snapshot": asdict(m.snapshot),
        "snapshot_taken_at": None if m.snapshot_taken_at is None else utc_text(m.snapshot_taken_at),
        "counts": asdict(m.counts),
        "tool_version": m.tool_version,
        "table_details": [
            {"name": f.name, "rows": f.rows, "size": f.length, "sql_bytes": f.raw_length}
            for f in sorted(m.frames, key=lambda f: f.offset)
            if f.kind == "table"
        ],
    }


def render(d: dict[str, Any]) -> str:
    snapshot = d["snapshot"]
    position = ", ".join(
        part
        for part in (
            f"binlog {snapshot['binlog_file']}:{snapshot['binlog_pos']}" if snapshot["binlog_file"] else "",
            f"GTID {snapshot['gtid']}" if snapshot["gtid"] else "",
        )
        if part
    )
    counts = ", ".join(f"{n} {what}" for what, n in d["counts"].items())
    fields = [
        ("backup", d["id"]),
        ("database", f"{d['database']} (source {d['source']}, {d['charset']} / {d['collation']})"),
        ("server", f"{d['server_flavour']} {d['server_version']}"),
        ("created", f"{d['created_at']}, finished {d['finished_at']} ({d['seconds']:.1f} s)"),
        ("snapshot", (position or "position not readable") + _taken(d["snapshot_taken_at"])),
        ("store", d["store"]),
        ("location", d["location"]),
        ("manifest", d["manifest"]),
        ("size", f"{human_size(d['size'])} ({d['compression']}), {d['rows']:,} rows"),
        ("sha256", d["sha256"]),
        ("objects", counts),
    ]
    triggers = ", ".join(d["excluded_triggers"])
    programs = ", ".join(d["programs_naming_excluded"])
    if d["schema_only"] or d["excluded_tables"] or d["excluded_views"] or triggers:
        left_out = ", ".join(d["excluded_tables"])
        views = ", ".join(d["excluded_views"])
        part = "; ".join(
            p
            for p in (
                "definitions only, no rows" if d["schema_only"] else "",
                f"tables left out: {left_out}" if left_out else "",
                f"views left out: {views}" if views else "",
                f"triggers left out (they name what was left out): {triggers}" if triggers else "",
                f"kept, naming what was left out: {programs}" if programs else "",
            )
            if p
        )
        fields.append(("partial", part + " (`latest` never picks it)"))
    for cased in d["name_case_references"]:  # works only where names are compared without case
        fields.append(
            (
                "case",
                f"{cased}: a restore into a server with lower_case_table_names = 0 refuses it (the source "
                f"has {d['lower_case_table_names']})",
            )
        )
    for refused in d["unrestorable"]:  # intact, but no restore of it gets past this object
        fields.append(("refused", f"{refused}: every restore of this backup will refuse it as it is"))
    # Every value read from the manifest is shown as text (a name may hold a newline or an escape).
    lines = [f"{name:<9} {one_line(value)}" for name, value in fields]
    rows = [("TABLE", "ROWS", "SIZE", "SQL")] + [
        (one_line(t["name"]), f"{t['rows']:,}", human_size(t["size"]), human_size(t["sql_bytes"]))
        for t in d["table_details"]
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines.append("")
    for row in rows:
        lines.append(
            "  "
            + row[0].ljust(widths[0])
            + "".join("  " + c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True))
        )
    return "\n".join(lines)


def _taken(moment: str | None) -> str:
    return f"; opened at {moment} by the server's clock" if moment else ""
