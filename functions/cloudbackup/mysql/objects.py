"""What a database holds, and the SQL text (bytes) of each schema object section of a dump.

Pure functions over a pymysql cursor. The caller owns the connection, the snapshot transaction and the
session, and has run `USE database` (so SHOW CREATE output is not qualified with the database name and
the dump restores under any name). Each section sets and restores the session its objects need
(sql_mode, character_set_client, collation_connection, time zone), so it reloads alike through the
stock `mysql` client or our own loader. DEFINER clauses are kept as the server shows them.

Frame order (see format/manifest.py): database, header, sequences, tables (DDL + rows + triggers),
routines, views, events, footer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cloudbackup.format.manifest import ObjectCounts
from cloudbackup.mysql.routines import (
    ProgramContext,
    Routine,
    events_section,
    list_events,
    list_routines,
    program_context,
    routines_section,
)
from cloudbackup.mysql.server_text import query, raw_results, text
from cloudbackup.mysql.tables import sequence_section, table_ddl
from cloudbackup.mysql.triggers import table_triggers, triggers_by_table, triggers_section
from cloudbackup.mysql.views import order_views, view_dependencies, views_section

__all__ = [
    "DatabaseObjects",
    "ProgramContext",
    "Routine",
    "events_section",
    "list_objects",
    "program_context",
    "raw_results",
    "routines_section",
    "sequence_section",
    "table_ddl",
    "table_triggers",
    "triggers_section",
    "views_section",
]


@dataclass(frozen=True)
class DatabaseObjects:
    database: str
    charset: str  # the database's default character set and collation
    collation: str
    tables: list[str]  # base tables (system-versioned included), by name
    system_versioned: frozenset[str] = frozenset()  # tables whose history is not dumped, only current rows
    sequences: list[str] = field(default_factory=list)
    views: list[str] = field(default_factory=list)  # in dependency order
    routines: list[Routine] = field(default_factory=list)
    triggers: dict[str, list[str]] = field(default_factory=dict)  # table -> triggers in creation order
    events: list[str] = field(default_factory=list)

    def is_system_versioned(self, table: str) -> bool:
        return table in self.system_versioned

    def counts(self) -> ObjectCounts:
        return ObjectCounts(
            tables=len(self.tables),
            views=len(self.views),
            routines=len(self.routines),
            triggers=sum(len(t) for t in self.triggers.values()),
            events=len(self.events),
            sequences=len(self.sequences),
        )


def list_objects(cur: Any, database: str) -> DatabaseObjects:
    """Every object of `database` in the order the dump writes them."""
    with raw_results(cur):
        schema = query(
            cur,
            "SELECT default_character_set_name AS cs, default_collation_name AS coll "
            "FROM information_schema.schemata WHERE schema_name = %s",
            (database,),
        )
        tables = query(
            cur,
            "SELECT table_name AS name, table_type AS kind FROM information_schema.tables "
            "WHERE table_schema = %s",
            (database,),
        )
    by_kind: dict[str, list[str]] = {}
    for row in tables:
        by_kind.setdefault(text(row["kind"]), []).append(text(row["name"]))
    base = sorted(by_kind.get("BASE TABLE", []) + by_kind.get("SYSTEM VERSIONED", []))
    views, _ = order_views(view_dependencies(cur, database, by_kind.get("VIEW", [])))
    return DatabaseObjects(
        database=database,
        charset=text(schema[0]["cs"]),
        collation=text(schema[0]["coll"]),
        tables=base,
        system_versioned=frozenset(by_kind.get("SYSTEM VERSIONED", [])),
        sequences=sorted(by_kind.get("SEQUENCE", [])),
        views=views,
        routines=list_routines(cur, database),
        triggers={t: names for t, names in triggers_by_table(cur, database).items() if t in base},
        events=list_events(cur, database),
    )
