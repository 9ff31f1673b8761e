"""Stored programs (functions, procedures, packages, events), each under the session it was created in."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cloudbackup.mysql.identifiers import quote_identifier, setting_name
from cloudbackup.mysql.qualifiers import unqualified_names
from cloudbackup.mysql.restorable import Refusals
from cloudbackup.mysql.server_text import (
    Row,
    current_database,
    database_collation,
    prepares_any_statement,
    query,
    raw_results,
    show_create,
    text,
)
from cloudbackup.mysql.session_text import (
    BACKSLASH_UNSAFE_CHARSETS,
    object_settings,
    stored_program,
    with_session,
)
from cloudbackup.printable import one_line

# A package's specification before its body; the rest by name.
ROUTINE_KINDS = ("FUNCTION", "PROCEDURE", "PACKAGE", "PACKAGE BODY")


@dataclass(frozen=True, order=True)
class Routine:
    kind: str  # FUNCTION | PROCEDURE | PACKAGE | PACKAGE BODY (MariaDB's Oracle-mode packages)
    name: str


def list_routines(cur: Any, database: str) -> list[Routine]:
    with raw_results(cur):
        rows = query(
            cur,
            "SELECT routine_type AS kind, routine_name AS name FROM information_schema.routines "
            "WHERE routine_schema = %s",
            (database,),
        )
    found = [Routine(text(r["kind"]), text(r["name"])) for r in rows]
    return sorted(found, key=lambda r: (_kind_rank(r.kind), r.name))


def hidden_routines(cur: Any, database: str) -> list[Routine]:
    """The routines of `database` whose body the server hides from this account: SHOW CREATE gives
    NULL for it where the account neither defined the routine nor may read every one."""
    hidden = []
    for routine in list_routines(cur, database):
        qualified = f"{quote_identifier(database)}.{quote_identifier(routine.name)}"
        with raw_results(cur):
            rows = query(cur, f"SHOW CREATE {routine.kind} {qualified}")
        if any(row[column] is None for row in rows for column in row if column.startswith("Create ")):
            hidden.append(routine)
    return hidden


def _kind_rank(kind: str) -> int:
    return ROUTINE_KINDS.index(kind) if kind in ROUTINE_KINDS else len(ROUTINE_KINDS)


def list_events(cur: Any, database: str) -> list[str]:
    with raw_results(cur):
        rows = query(
            cur,
            "SELECT event_name AS name FROM information_schema.events WHERE event_schema = %s "
            "ORDER BY event_name",
            (database,),
        )
    return [text(r["name"]) for r in rows]


@dataclass(frozen=True)
class ProgramContext:
    """What writing stored programs needs to know about the server, asked once per section."""

    db_collation: str
    prepares_any_statement: bool  # so a program with comments can travel through EXECUTE IMMEDIATE
    database: str = ""  # the database dumped (the session's current one); "" leaves bodies as they are
    # A backup's: where each object a restore would refuse is told (None: not told, as when an
    # in-place restore copies the live objects it replaces)
    refusals: Refusals | None = None


def program_context(cur: Any, refusals: Refusals | None = None) -> ProgramContext:
    return ProgramContext(
        db_collation=database_collation(cur),
        prepares_any_statement=prepares_any_statement(cur),
        database=current_database(cur),
        refusals=refusals,
    )


def routines_section(cur: Any, routines: Iterable[Routine], context: ProgramContext | None = None) -> bytes:
    """DROP + CREATE of each routine. Bodies are not resolved at CREATE time: any order loads."""
    context = context or program_context(cur)
    return b"".join(
        stored_object(show_create(cur, r.kind, r.name), context, drop=f"DROP {r.kind} IF EXISTS")
        for r in routines
    )


def events_section(cur: Any, events: Iterable[str], context: ProgramContext | None = None) -> bytes:
    """DROP + CREATE of each event, in its own time zone (its schedule is shown in that zone)."""
    context = context or program_context(cur)
    return b"".join(
        stored_object(show_create(cur, "EVENT", name), context, drop="DROP EVENT IF EXISTS")
        for name in events
    )


def stored_object(row: Row, context: ProgramContext, *, drop: str = "") -> bytes:
    """A trigger/routine/event: its own sql_mode, charsets, time zone and database collation.

    `drop` (e.g. "DROP FUNCTION IF EXISTS") runs inside the object's session: a package can only be named
    under sql_mode ORACLE, and the name is written in the object's own character set (as the server
    returned it). An object remembers the database collation it was created under; when that differs
    from the database's own, the database is switched around the CREATE (`ALTER DATABASE` without a name
    applies to the current database, so this works under any target name).
    """
    settings = object_settings(row)
    statement = own_names(row["statement"], context.database, settings)
    name = bytes(next(iter(row.values())))  # SHOW CREATE's first column is the object's name
    if context.refusals is not None:
        context.refusals.check(
            next(iter(row)),
            one_line(quote_identifier(name.decode("utf-8", "replace"))),
            statement,
            database=context.database,
            sql_mode=settings["sql_mode"],
        )
    body = stored_program(
        statement,
        sql_mode=settings["sql_mode"],
        charset=settings["character_set_client"],
        execute_immediate=context.prepares_any_statement,
    )
    if drop:
        body = drop.encode() + b" `" + name.replace(b"`", b"``") + b"`;\n" + body
    created_under = text(row.get("Database Collation", b"")) or context.db_collation
    if created_under != context.db_collation:
        body = (
            f"ALTER DATABASE COLLATE {setting_name(created_under)};\n".encode()
            + body
            + f"ALTER DATABASE COLLATE {setting_name(context.db_collation)};\n".encode()
        )
    return with_session(settings, body)


def own_names(statement: bytes, database: str, settings: dict[str, str]) -> bytes:
    """The CREATE of a trigger, routine or event with names of its own `database` unqualified, so it
    restores into any target (a restore refuses qualified names). Its body runs with its own database
    as the default one, so `db.log` and `log` are the same table there (see unqualified_names). Text in
    a character set where a quote or backslash byte can end a multibyte character is left as it is:
    its strings cannot be told apart from its names byte by byte."""
    if not database or settings["character_set_client"] in BACKSLASH_UNSAFE_CHARSETS:
        return statement
    escapes = "NO_BACKSLASH_ESCAPES" not in settings["sql_mode"].split(",")
    return unqualified_names(statement, database, escapes)
