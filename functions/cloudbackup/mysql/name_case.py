"""Stored programs that name a table in another letter case than its own, on a server where that works.

A server with lower_case_table_names 1 or 2 compares table names without case: a trigger written
`INSERT INTO AuditLog` writes into table `auditlog`. The body is kept as written (a view's definition
the server resolves and writes with the table's own name), so restored into a server that compares names
with case (lower_case_table_names = 0, Linux's default) it fails at its first use (error 1146). The backup
finds such names, warns of each, and lists them in its manifest with the source's setting; a restore
into a server comparing names with case refuses it up front (preflight/rules.py).

Names are read where a statement names a table: after FROM, JOIN, INTO, UPDATE and TABLE (with the
comma lists that follow FROM), and before `.column`. A column or alias spelt like a table is not taken
for one there, so what is reported is what would fail.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from cloudbackup.confine.lexer import Token
from cloudbackup.format.manifest import NameCaseReference
from cloudbackup.mysql.identifiers import quote_identifier
from cloudbackup.mysql.program_names import ROW, body_tokens, stored_programs, trigger_bodies
from cloudbackup.printable import one_line

log = logging.getLogger(__name__)

_NAMING = {b"FROM", b"JOIN", b"INTO", b"UPDATE", b"TABLE"}
_MODIFIERS = {b"LOW_PRIORITY", b"IGNORE", b"QUICK", b"HIGH_PRIORITY", b"DELAYED", b"ONLY"}
# Words after a table name that are no alias of it
_NOT_ALIAS = {
    *(b"JOIN", b"INNER", b"LEFT", b"RIGHT", b"CROSS", b"NATURAL", b"STRAIGHT_JOIN", b"WHERE", b"ON"),
    *(b"USING", b"SET", b"VALUES", b"VALUE", b"SELECT", b"GROUP", b"ORDER", b"LIMIT", b"HAVING"),
    *(b"UNION", b"FOR", b"LOCK", b"WINDOW", b"PARTITION", b"USE", b"IGNORE", b"FORCE", b"AS"),
}


def tables_named(body: bytes, sql_mode: str) -> list[str]:
    """The table names `body` is written with, as written (empty when it cannot be read)."""
    toks = body_tokens(body, sql_mode)
    return [] if toks is None else list(_tables(toks))


class Created(NamedTuple):
    """What a dump's CREATE makes, as the check before loading read it (confine/check.py `created`)."""

    kind: str  # table, view, sequence; trigger, procedure, function, event
    name: str
    table: str  # a trigger's table
    written: tuple[str, ...]  # a program's body: the table names it is written with


_RELATIONS = ("table", "view", "sequence")
_PROGRAMS = ("trigger", "procedure", "function", "event")
# Where a program's body starts: after a trigger's FOR EACH ROW, an event's DO (a routine's: its name)
_BODY_AFTER = {"trigger": b"ROW", "event": b"DO"}


def made_by(kind: str, rest: list[Token]) -> Created | None:
    """What `CREATE <kind> <rest>` makes (`rest`: its tokens after the kind), or None for another kind."""
    kind = kind.lower()
    if kind not in _RELATIONS and kind not in _PROGRAMS:
        return None
    i = 0
    while i < len(rest) and rest[i].kind == "word" and rest[i].text in (b"IF", b"NOT", b"EXISTS"):
        i += 1
    name, i = _object(rest, i)
    if name is None:
        return None
    table = ""
    if kind == "trigger":
        on = next((k for k in range(i, len(rest)) if rest[k].kind == "word" and rest[k].text == b"ON"), None)
        table = (_object(rest, on + 1)[0] or "") if on is not None else ""
    written: tuple[str, ...] = ()
    if kind in _PROGRAMS:
        start = _BODY_AFTER.get(kind)
        at = i if start is None else next((k + 1 for k in range(i, len(rest)) if rest[k].text == start), None)
        written = () if at is None else tuple(_tables(rest[at:]))
    return Created(kind, name, table, written)


def _object(toks: list[Token], i: int) -> tuple[str | None, int]:
    """The object named at toks[i] (the second of `db`.`name`), and where what follows it starts."""
    name = _name(toks[i]) if i < len(toks) else None
    if name is not None and _is_op(toks, i + 1, b".") and i + 2 < len(toks):
        return _name(toks[i + 2]), i + 3
    return name, i + 1


def dump_name_case_references(made: Iterable[Created]) -> list[NameCaseReference]:
    """The programs of a dump file that name one of its tables (views, sequences) in another letter case
    than any of them has: only a server comparing table names without case would find it. (Two tables
    alike but for case come from a server comparing with case: a name written as one of them is its own.)"""
    made = list(made)
    own = {c.name for c in made if c.kind in _RELATIONS}
    folded: dict[str, str] = {}
    for table in sorted(own):
        folded.setdefault(table.casefold(), table)
    found = []
    for c in made:
        means = next(
            ((w, folded[w.casefold()]) for w in c.written if w not in own and w.casefold() in folded), None
        )
        if means is not None:
            found.append(
                NameCaseReference(kind=c.kind, name=c.name, table=c.table, written=means[0], means=means[1])
            )
    return found


def _name(tok: Token) -> str | None:
    if tok.kind == "name":
        return tok.text.decode("utf-8", "replace")
    if tok.kind == "word":
        return tok.raw.decode("utf-8", "replace")
    return None


def _is_op(toks: list[Token], i: int, op: bytes) -> bool:
    return i < len(toks) and toks[i].kind == "op" and toks[i].text == op


def _tables(toks: list[Token]) -> Iterator[str]:
    i, n = 0, len(toks)
    while i < n:
        tok = toks[i]
        if tok.kind == "word" and tok.text in _NAMING:
            i += 1
            while i < n and toks[i].kind == "word" and toks[i].text in _MODIFIERS:
                i += 1
            while i < n and (name := _name(toks[i])) is not None:
                i += 1
                if _is_op(toks, i, b".") and i + 1 < n and (table := _name(toks[i + 1])) is not None:
                    name, i = table, i + 2  # (qualified with a database: the table is the second name)
                yield name
                if i < n and toks[i].kind == "word" and toks[i].text == b"AS":
                    i += 1
                if i < n and _name(toks[i]) is not None and toks[i].text not in _NOT_ALIAS:
                    i += 1  # its alias
                if not _is_op(toks, i, b","):
                    break
                i += 1
            continue
        name = _name(tok)
        if name is not None and _is_op(toks, i + 1, b".") and tok.text not in ROW:
            before = i > 0 and _is_op(toks, i - 1, b".")
            if not before:
                yield name  # `AuditLog.at`: a table (or an alias) naming a column
        i += 1


def name_case_references(
    cur: Any, database: str, tables: Iterable[str], triggers: dict[str, list[str]]
) -> list[NameCaseReference]:
    """The triggers (of `triggers`, table -> names), routines and events of `database` that name one of
    `tables` (its tables, views and sequences) in another letter case. Each is warned of in one line."""
    own = {t.casefold(): t for t in tables}
    found: list[NameCaseReference] = []

    def check(kind: str, name: str, table: str, body: bytes, sql_mode: str) -> None:
        for written in tables_named(body, sql_mode):
            means = own.get(written.casefold())
            if means is not None and means != written:
                found.append(
                    NameCaseReference(kind=kind, name=name, table=table, written=written, means=means)
                )
                return

    bodies = trigger_bodies(cur, database)
    for table, names in triggers.items():
        for trigger in names:
            body, sql_mode = bodies.get(trigger, (b"", ""))
            check("trigger", trigger, table, body, sql_mode)
    for kind, name, body, sql_mode in stored_programs(cur, database):
        check(kind, name, "", body, sql_mode)
    for ref in found:
        log.warning(
            "%s: it works here, where table names are compared without case, and fails at its first use "
            "on a server comparing them with case (lower_case_table_names = 0), which a restore refuses",
            one_line(describe(ref, database)),
        )
    return found


def describe(ref: NameCaseReference, database: str = "") -> str:
    """`trigger `t` of `shop` names `AuditLog` for table `auditlog``: one reference, for messages."""
    of = f" of {quote_identifier(database)}" if database else ""
    return (
        f"{ref.kind} {quote_identifier(ref.name)}{of} names {quote_identifier(ref.written)} "
        f"for table {quote_identifier(ref.means)}"
    )
