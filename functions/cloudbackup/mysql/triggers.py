"""A table's triggers in action order, each under the session it was created in."""

from __future__ import annotations

from typing import Any

from cloudbackup.mysql.routines import stored_object
from cloudbackup.mysql.server_text import (
    current_database,
    database_collation,
    query,
    raw_results,
    show_create,
    text,
)


def trigger_names(cur: Any, database: str, table: str) -> list[str]:
    """Triggers of `table` in creation order: recreating them in this order restores ACTION_ORDER.

    The server drops FOLLOWS/PRECEDES from the text it keeps, so the order is all there is.
    """
    with raw_results(cur):
        rows = query(
            cur,
            "SELECT trigger_name FROM information_schema.triggers "
            "WHERE trigger_schema = %s AND event_object_table = %s "
            "ORDER BY action_timing, event_manipulation, action_order",
            (database, table),
        )
    return [text(r["trigger_name"]) for r in rows]


def table_triggers(cur: Any, table: str, *, database: str | None = None) -> bytes:
    """CREATE TRIGGER statements for `table` (empty when it has none), to follow its rows."""
    names = trigger_names(cur, database if database is not None else current_database(cur), table)
    if not names:
        return b""
    collation = database_collation(cur)
    return b"".join(stored_object(show_create(cur, "TRIGGER", name), collation) for name in names)
