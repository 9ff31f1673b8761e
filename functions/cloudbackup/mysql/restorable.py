"""Warnings, while a backup is written, about objects every restore of it will refuse.

A restore refuses any name qualified with a database (confine/check.py): a trigger writing into
another database would otherwise let a copy change the live source. The backup keeps such an object
as it is, says so in one line, and lists it in the manifest (`unrestorable`, which verify shows), so
the operator learns it now rather than on the day of a restore.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from cloudbackup.confine.check import refusal
from cloudbackup.mysql.server_text import query, raw_results, text

log = logging.getLogger(__name__)


def server_databases(cur: Any) -> frozenset[str]:
    """The databases of the server: a qualifier naming one of them is refused by a restore."""
    with raw_results(cur):
        rows = query(cur, "SELECT schema_name AS name FROM information_schema.schemata")
    return frozenset(text(r["name"]) for r in rows)


@dataclass
class Refusals:
    """The objects of one backup that a restore would refuse, one line each, as they are written."""

    databases: frozenset[str]  # names a qualifier must not use (the source server's)
    lines: list[str] = field(default_factory=list)

    def check(self, kind: str, name: str, statement: bytes, *, database: str, sql_mode: str) -> None:
        """Warn in one line if a restore would refuse `statement`, the CREATE of `kind` `name`."""
        why = refusal(statement, database, self.databases, sql_mode)
        if why is not None:
            self.add(kind, name, why, database=database)

    def add(self, kind: str, name: str, why: str, *, database: str) -> None:
        """Warn in one line that every restore will refuse `kind` `name`, and why."""
        line = f"{kind.lower()} {name} of {database} {why}"
        self.lines.append(line)
        log.warning("%s: every restore of this backup will refuse it as it is", line)
