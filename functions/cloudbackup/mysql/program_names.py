"""The names a trigger's body is written with, and the triggers that name tables a backup leaves out.

A trigger's body is kept as written (unlike a view's, which the server resolves and normalises), and the
server resolves the tables it names only when it fires: a trigger over a table a backup left out is
created by the restore and fails at its first use (error 1146). Names are read with the restore's own
lexer (confine/lexer.py), outside strings and comments; a column written like a table could only leave
out one trigger too many, said in the backup's warning, never keep one that fails.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import Any

from cloudbackup.confine.lexer import LexError, Token, tokens
from cloudbackup.mysql.server_text import query, raw_results, text

ROW = (b"NEW", b"OLD")  # `NEW.x` and `OLD.x` are the row's columns, never a table


def body_tokens(body: bytes, sql_mode: str) -> list[Token] | None:
    """A stored program's body as the server reads it under `sql_mode`; None when it cannot be read."""
    modes = {m.strip().upper() for m in sql_mode.split(",")}
    try:
        return tokens(
            body,
            escapes="NO_BACKSLASH_ESCAPES" not in modes,
            ansi_quotes=bool(modes & {"ANSI_QUOTES", "ANSI"}),
            runs=lambda _opener: True,
        )
    except LexError:
        return None


def names_written(body: bytes, sql_mode: str) -> list[str] | None:
    """Every name `body` is written with (bare or quoted, as written), but the row's `NEW.x`/`OLD.x`;
    None when it cannot be read as the server would."""
    toks = body_tokens(body, sql_mode)
    if toks is None:
        return None
    names = []
    for i, tok in enumerate(toks):
        if tok.kind not in ("word", "name"):
            continue
        after_dot = i >= 2 and toks[i - 1].kind == "op" and toks[i - 1].text == b"."
        if after_dot and toks[i - 2].kind == "word" and toks[i - 2].text in ROW:
            continue
        names.append((tok.raw if tok.kind == "word" else tok.text).decode("utf-8", "replace"))
    return names


def trigger_bodies(cur: Any, database: str) -> dict[str, tuple[bytes, str]]:
    """Each trigger of `database`: its body and the sql_mode it was created under."""
    with raw_results(cur):
        rows = query(
            cur,
            "SELECT trigger_name AS name, action_statement AS body, sql_mode AS mode "
            "FROM information_schema.triggers WHERE event_object_schema = %s",
            (database,),
        )
    return {
        text(r["name"]): (text(r["body"]).encode("utf-8", "surrogateescape"), text(r["mode"])) for r in rows
    }


def triggers_naming(
    cur: Any,
    database: str,
    triggers: Mapping[str, list[str]],
    gone: Collection[str],
    *,
    fold: bool,
) -> list[str]:
    """The `triggers` (table -> names) whose bodies name any of `gone` (tables and views left out).
    `fold`: the server compares table names without case (lower_case_table_names 1 or 2)."""
    if not gone:
        return []

    def key(name: str) -> str:
        return name.casefold() if fold else name

    missing = {key(n) for n in gone}
    bodies = trigger_bodies(cur, database)
    naming = []
    for names in triggers.values():
        for trigger in names:
            body, sql_mode = bodies.get(trigger, (b"", ""))
            written = names_written(body, sql_mode)
            # (one that cannot be read is left out: the restore would have to guess at it too)
            if written is None or any(key(n) in missing for n in written):
                naming.append(trigger)
    return sorted(naming)


def stored_programs(cur: Any, database: str) -> Iterator[tuple[str, str, bytes, str]]:
    """(kind, name, body, sql_mode) of each routine and event of `database` (bodies the server shows)."""
    with raw_results(cur):
        routines = query(
            cur,
            "SELECT routine_type AS kind, routine_name AS name, routine_definition AS body, sql_mode AS mode "
            "FROM information_schema.routines WHERE routine_schema = %s",
            (database,),
        )
        events = query(
            cur,
            "SELECT 'EVENT' AS kind, event_name AS name, event_definition AS body, sql_mode AS mode "
            "FROM information_schema.events WHERE event_schema = %s",
            (database,),
        )
    for row in [*routines, *events]:
        if row["body"] is not None:
            body = text(row["body"]).encode("utf-8", "surrogateescape")
            yield text(row["kind"]).lower(), text(row["name"]), body, text(row["mode"])


def programs_naming(cur: Any, database: str, gone: Collection[str], *, fold: bool) -> list[str]:
    """The routines and events of `database` whose bodies name any of `gone` (`procedure p`, …). They
    are kept (one may name it only on a path it rarely takes): the backup warns of them and lists them."""
    if not gone:
        return []

    def key(name: str) -> str:
        return name.casefold() if fold else name

    missing = {key(n) for n in gone}
    naming = []
    for kind, name, body, sql_mode in stored_programs(cur, database):
        written = names_written(body, sql_mode)
        if written is None or any(key(n) in missing for n in written):
            naming.append(f"{kind} {name}")
    return sorted(naming)
