"""Warnings, while a backup is written, about objects every restore of it will refuse.

A restore refuses any name qualified with a database (confine/check.py): a trigger writing into
another database would otherwise let a copy change the live source. The backup keeps such an object
as it is, and says so in one line, so the operator learns it now rather than on the day of a restore.
"""

from __future__ import annotations

import logging
from typing import Any

from cloudbackup.confine.check import refusal
from cloudbackup.mysql.server_text import query, raw_results, text

log = logging.getLogger(__name__)


def server_databases(cur: Any) -> frozenset[str]:
    """The databases of the server: a qualifier naming one of them is refused by a restore."""
    with raw_results(cur):
        rows = query(cur, "SELECT schema_name AS name FROM information_schema.schemata")
    return frozenset(text(r["name"]) for r in rows)


def warn_if_refused(
    kind: str, name: str, statement: bytes, *, database: str, databases: frozenset[str], sql_mode: str
) -> None:
    """One warning line if a restore would refuse `statement`, the CREATE of `kind` `name`."""
    why = refusal(statement, database, databases, sql_mode)
    if why is not None:
        log.warning(
            "%s %s of %s %s: every restore of this backup will refuse it as it is",
            kind.lower(),
            name,
            database,
            why,
        )
