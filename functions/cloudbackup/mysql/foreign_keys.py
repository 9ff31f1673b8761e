"""Tables a backup without some tables cannot keep: those referring to them by foreign key.

A restore creates a kept table's foreign keys as they are (foreign_key_checks=0), so one naming a table
the backup left out points at no table: every insert of a child row then fails on the missing parent
(error 1452). Leaving the key out would change the table's definition, and leaving the table out would
drop rows the operator asked for: the backup is refused up front instead, naming the tables to add.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from cloudbackup.errors import UsageError
from cloudbackup.mysql.server_text import query, raw_results, text


def references(cur: Any, database: str) -> dict[str, set[str]]:
    """Each table of `database` with foreign keys, and the tables of `database` they refer to."""
    with raw_results(cur):
        rows = query(
            cur,
            "SELECT table_name AS child, referenced_table_name AS parent "
            "FROM information_schema.referential_constraints "
            "WHERE constraint_schema = %s AND unique_constraint_schema = %s",
            (database, database),
        )
    found: dict[str, set[str]] = {}
    for row in rows:
        found.setdefault(text(row["child"]), set()).add(text(row["parent"]))
    return found


def children_left_behind(refs: Mapping[str, set[str]], exclude: Collection[str]) -> list[str]:
    """The tables not in `exclude` that refer to one in it, directly or through each other."""
    gone = set(exclude)
    added: list[str] = []
    while more := sorted(c for c, parents in refs.items() if c not in gone and parents & gone):
        gone |= set(more)
        added += more
    return added


def refuse_children_left_behind(
    refs: Mapping[str, set[str]], database: str, exclude: Collection[str]
) -> None:
    """UsageError in one line if a table of `database` (whose foreign keys are `refs`, see references)
    kept by a backup without `exclude` refers to an excluded one, directly or through other kept tables:
    it names the tables to leave out too."""
    children = children_left_behind(refs, exclude)
    if not children:
        return
    parent = next(p for c in children for p in sorted(refs[c]) if p in exclude)
    flags = " ".join(f"--exclude-table {c}" for c in children)
    raise UsageError(
        f"--exclude-table {parent}: table(s) {', '.join(children)} of {database} refer to it by foreign "
        "key (directly or through each other), which a restore would leave pointing at no table: leave "
        f"them out too ({flags}) or keep {parent}"
    )
