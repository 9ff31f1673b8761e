"""Views in dependency order, stand-ins first only where views depend on each other in a cycle.

Views come after all tables and routines, so each real definition can be created once the views it
reads exist. Dependencies are read from the server's VIEW_DEFINITION (10.11 has no VIEW_TABLE_USAGE),
where every table or view read is written `database`.`name`. A string literal holding such text could
only add order, never lose it. (A view that reads itself through a rename is "view recursion": the
server refuses to show it at all.)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from cloudbackup.mysql.identifiers import quote_identifier, unqualify_sequence_calls
from cloudbackup.mysql.restorable import Refusals
from cloudbackup.mysql.server_text import current_database, query, raw_results, show_create, text
from cloudbackup.mysql.session_text import object_settings, with_session
from cloudbackup.printable import one_line

# Views keep no sql_mode: the server stores a normalised definition. It is shown under sql_mode ''
# (see server_text) and reloaded under the same.
VIEW_SQL_MODE = ""
# The names in DROP VIEW and stand-ins are written in UTF-8, whatever the loading session's charset.
NAMES_SESSION = {"sql_mode": VIEW_SQL_MODE, "character_set_client": "utf8mb4"}
ER_VIEW_INVALID = 1356
INVALID_VIEW = (
    "reads a table, column or function that does not exist (or that its definer may not read; "
    "error 1356), so it cannot be created again"
)
_QUALIFIED_NAME = re.compile(r"`((?:[^`]|``)*)`\.`((?:[^`]|``)*)`")


def references(definition: str, database: str) -> set[str]:
    """The names a view definition reads from `database` (written `database`.`name` by the server)."""
    return {
        m.group(2).replace("``", "`")
        for m in _QUALIFIED_NAME.finditer(definition)
        if m.group(1).replace("``", "`") == database
    }


def order_views(dependencies: Mapping[str, Iterable[str]]) -> tuple[list[str], set[str]]:
    """A creation order for views (what they read first, then by name) and the views needing stand-ins.

    `dependencies[v]` holds the names v reads; names that are not keys (tables) are ignored. Views that
    read each other in a cycle are created together (stand-ins first, then each replaced by its real
    definition); views reading them wait until all of the cycle is real.
    """
    reads = {v: {d for d in deps if d in dependencies and d != v} for v, deps in dependencies.items()}
    reach = {v: _reachable(v, reads) for v in reads}
    cyclic = {v for v in reads if v in reach[v]}
    group = {v: frozenset({v} | {u for u in reach[v] if v in reach[u]}) for v in reads}
    pending = {g: {group[d] for v in g for d in reads[v]} - {g} for g in set(group.values())}
    order: list[str] = []
    while pending:
        ready = sorted((g for g, deps in pending.items() if not deps), key=min)
        for g in ready:
            del pending[g]
            order.extend(sorted(g))
        for deps in pending.values():
            deps.difference_update(ready)
    return order, cyclic


def _reachable(start: str, reads: Mapping[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    stack = list(reads[start])
    while stack:
        view = stack.pop()
        if view not in seen:
            seen.add(view)
            stack.extend(reads[view])
    return seen


def view_dependencies(cur: Any, database: str, views: Iterable[str]) -> dict[str, set[str]]:
    wanted = set(views)
    found = _names_read(cur, database)
    return {v: found.get(v, set()) & wanted for v in wanted}


def views_reading(cur: Any, database: str, views: Iterable[str], left_out: Iterable[str]) -> list[str]:
    """The `views` that read any of `left_out` (tables or views), directly or through other views, by name.

    A backup without a table leaves these out too: the server refuses to create a view over a table that
    is not there, so its restore would fail at the views. (A name inside a string literal of a definition
    could only leave out one view too many, said in the backup's warning, never keep one that fails.)
    """
    reads = _names_read(cur, database)
    gone = set(left_out)
    kept = set(views) - gone
    while True:
        reading = {v for v in kept if reads.get(v, set()) & gone}
        if not reading:
            return sorted(set(views) - kept)
        gone |= reading
        kept -= reading


def _names_read(cur: Any, database: str) -> dict[str, set[str]]:
    """Each view of `database` and the names of its tables and views that it reads."""
    with raw_results(cur):
        rows = query(
            cur,
            "SELECT table_name AS name, view_definition AS definition FROM information_schema.views "
            "WHERE table_schema = %s",
            (database,),
        )
    return {text(r["name"]): references(text(r["definition"]), database) for r in rows}


def views_section(
    cur: Any, views: Iterable[str], *, database: str | None = None, refusals: Refusals | None = None
) -> bytes:
    """Drop the views (and create stand-ins for cycles) in utf8mb4, then each real definition in order,
    under its own client character set and connection collation. `refusals` (a backup's) is told of
    each view a restore would refuse."""
    db = database if database is not None else current_database(cur)
    order, cyclic = order_views(view_dependencies(cur, db, views))
    if not order:
        return b""
    prepare = [f"DROP VIEW IF EXISTS {quote_identifier(view)};\n".encode() for view in order]
    prepare += [stand_in(cur, db, view) for view in order if view in cyclic]
    parts = [with_session(NAMES_SESSION, b"".join(prepare))]
    for view in order:
        row = show_create(cur, "VIEW", view)
        statement = unqualify_sequence_calls(row["statement"], db)
        if refusals is not None:  # (shown from its own database, a view names its tables unqualified)
            name = one_line(quote_identifier(view))
            if is_invalid(cur, view):
                refusals.add("view", name, INVALID_VIEW, database=db)
            else:
                refusals.check("view", name, statement, database=db, sql_mode=VIEW_SQL_MODE)
        if view in cyclic:  # replaces its stand-in
            statement = re.sub(rb"^CREATE ", b"CREATE OR REPLACE ", statement)
        parts.append(with_session(object_settings(row, sql_mode=VIEW_SQL_MODE), statement + b";\n"))
    return b"".join(parts)


def is_invalid(cur: Any, view: str) -> bool:
    """Whether the server finds `view` invalid (warning 1356): it reads a table, column or function
    that is gone (or that its definer may not read). Creating it again fails on MySQL and MariaDB."""
    cur.execute(f"SHOW CREATE VIEW {quote_identifier(view)}")
    cur.fetchall()
    cur.execute("SHOW WARNINGS")
    return any(int(code) == ER_VIEW_INVALID for _level, code, _message in cur.fetchall())


def stand_in(cur: Any, database: str, view: str) -> bytes:
    """A placeholder view with the real one's column names, so views in a cycle can be created."""
    with raw_results(cur):
        rows = query(
            cur,
            "SELECT column_name AS name FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
            (database, view),
        )
    columns = ", ".join(f"1 AS {quote_identifier(text(r['name']))}" for r in rows) or "1 AS `1`"
    return f"CREATE OR REPLACE VIEW {quote_identifier(view)} AS SELECT {columns};\n".encode()
