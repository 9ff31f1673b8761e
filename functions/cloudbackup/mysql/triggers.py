"""A table's triggers in action order, each under the session it was created in."""

from __future__ import annotations

from typing import Any

from cloudbackup.mysql.identifiers import unqualify_trigger
from cloudbackup.mysql.routines import ProgramContext, program_context, stored_object
from cloudbackup.mysql.server_text import (
    current_database,
    query,
    raw_results,
    show_create,
    text,
)


def triggers_by_table(cur: Any, database: str, table: str | None = None) -> dict[str, list[str]]:
    """Triggers per table (or of one table) in creation order: recreating them in this order restores
    ACTION_ORDER. The server drops FOLLOWS/PRECEDES from the text it keeps, so the order is all there is.
    """
    # EVENT_OBJECT_SCHEMA, not TRIGGER_SCHEMA (the same value: a trigger lives in its table's schema):
    # MariaDB narrows the scan by the former only, and otherwise opens every table of every database,
    # waiting behind any RENAME pending anywhere on the server.
    one_table = " AND event_object_table = %s" if table is not None else ""
    with raw_results(cur):
        rows = query(
            cur,
            "SELECT event_object_table AS tbl, trigger_name AS name FROM information_schema.triggers "
            f"WHERE event_object_schema = %s{one_table} "
            "ORDER BY event_object_table, action_timing, event_manipulation, action_order",
            (database,) if table is None else (database, table),
        )
    found: dict[str, list[str]] = {}
    for row in rows:
        found.setdefault(text(row["tbl"]), []).append(text(row["name"]))
    return found


def table_triggers(cur: Any, table: str, *, database: str | None = None) -> bytes:
    """CREATE TRIGGER statements for `table` (empty when it has none), to follow its rows."""
    db = database if database is not None else current_database(cur)
    return triggers_section(cur, triggers_by_table(cur, db, table).get(table, []))


def triggers_section(cur: Any, names: list[str], context: ProgramContext | None = None) -> bytes:
    """CREATE TRIGGER statements for the triggers `names` (one table's, in creation order).

    A dump that already listed every table's triggers passes them, and the server `context` it asked
    once, so a table costs no more queries than its triggers' SHOW CREATE.
    """
    if not names:
        return b""
    context = context or program_context(cur)
    database = current_database(cur)
    sections = []
    for name in names:
        row = show_create(cur, "TRIGGER", name)
        row["statement"] = unqualify_trigger(row["statement"], database)
        sections.append(stored_object(row, context))
    return b"".join(sections)
