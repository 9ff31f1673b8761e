"""Views in dependency order, stand-ins first only where views depend on each other in a cycle.

Views come after all tables and routines, so each real definition can be created once the views it
reads exist. Dependencies are read from the identifiers in the server's VIEW_DEFINITION (10.11 has no
VIEW_TABLE_USAGE): a view depends on every other view whose name appears there as an identifier. That
may over-approximate (a column alias named like a view), which only adds order, never loses it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from cloudbackup.mysql.identifiers import quote_identifier, unqualify_sequence_calls
from cloudbackup.mysql.server_text import current_database, query, raw_results, show_create, text
from cloudbackup.mysql.session_text import object_settings, with_session

# Views keep no sql_mode: the server stores a normalised definition. It is shown under sql_mode ''
# (see server_text) and reloaded under the same.
VIEW_SQL_MODE = ""
# The names in DROP VIEW and stand-ins are written in UTF-8, whatever the loading session's charset.
NAMES_SESSION = {"sql_mode": VIEW_SQL_MODE, "character_set_client": "utf8mb4"}
_QUOTED_IDENTIFIER = re.compile(r"`((?:[^`]|``)*)`")


def identifiers(definition: str) -> set[str]:
    """The backtick-quoted identifiers in a definition, unquoted."""
    return {m.group(1).replace("``", "`") for m in _QUOTED_IDENTIFIER.finditer(definition)}


def order_views(dependencies: Mapping[str, Iterable[str]]) -> tuple[list[str], set[str]]:
    """A creation order for views (dependencies first, then by name) and the views needing stand-ins.

    `dependencies[v]` holds the names v reads; names that are not keys (tables) are ignored. Views on or
    behind a cycle cannot be ordered: they get stand-ins and come last, by name.
    """
    pending = {v: {d for d in deps if d in dependencies and d != v} for v, deps in dependencies.items()}
    order: list[str] = []
    while True:
        ready = sorted(v for v, deps in pending.items() if not deps)
        if not ready:
            break
        for view in ready:
            del pending[view]
            order.append(view)
        for deps in pending.values():
            deps.difference_update(ready)
    return order + sorted(pending), set(pending)


def view_dependencies(cur: Any, database: str, views: Iterable[str]) -> dict[str, set[str]]:
    wanted = set(views)
    with raw_results(cur):
        rows = query(
            cur,
            "SELECT table_name AS name, view_definition AS definition FROM information_schema.views "
            "WHERE table_schema = %s",
            (database,),
        )
    found = {text(r["name"]): identifiers(text(r["definition"])) for r in rows}
    return {v: found.get(v, set()) & wanted for v in wanted}


def views_section(cur: Any, views: Iterable[str], *, database: str | None = None) -> bytes:
    """Drop the views (and create stand-ins for cycles) in utf8mb4, then each real definition in order,
    under its own client character set and connection collation."""
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
        parts.append(with_session(object_settings(row, sql_mode=VIEW_SQL_MODE), statement + b";\n"))
    return b"".join(parts)


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
