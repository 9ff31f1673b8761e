"""Names qualified with one database, found in SQL text without touching its strings and comments.

Point-in-time replay points a logged statement's names at the restore's target (renamed_qualifiers);
a backup writes stored programs without their own database's qualifier (unqualified_names), so they
restore under any name. Both read only names: `COMMENT 'copy of shop.t'` stays as written.
"""

from __future__ import annotations

import functools
import re

from cloudbackup.mysql.identifiers import quote_identifier

# A bare name's bytes (UTF-8 names included), and what may come before one: `@a.b` is a user variable.
_NAME_BYTE = rb"[\w$\x80-\xff]"
_BEFORE_NAME = rb"[\w`$@\x80-\xff]"
# A database name that can be written bare: not starting with a digit, so `2024.5` is a number.
_BARE = re.compile(rb"[A-Za-z_$\x80-\xff][\w$\x80-\xff]*")


@functools.lru_cache(maxsize=64)
def qualifier_pattern(database: str, escapes: bool = True) -> re.Pattern[bytes]:
    """`db`. or db. as a name qualifier (backquoted, or bare between word boundaries), in group
    `name`; or else a string, another backquoted name or a comment, matched whole so that nothing
    inside one is taken for a qualifier. (Conditional comments `/*!…*/` are code: read inside.)"""
    quoted = re.escape(quote_identifier(database).encode())
    qualifier = quoted
    if _BARE.fullmatch(database.encode()):
        qualifier = rb"(?:" + quoted + rb"|(?<!" + _BEFORE_NAME + rb")" + re.escape(database.encode()) + rb")"
    # After a dot, a name is a table's or a column's, never a database's.
    qualifier = rb"(?<!\.)" + qualifier
    name = rb"(?P<name>" + qualifier + rb"\s*\.(?=\s*(?:`|" + _NAME_BYTE + rb")))"
    if escapes:
        strings = rb"'(?:[^'\\]|\\[\s\S]|'')*'|\"(?:[^\"\\]|\\[\s\S]|\"\")*\""
    else:
        strings = rb"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\""
    # `--` starts a comment only before a space or control character; a newline ends it
    other = rb"`(?:[^`]|``)*`|/\*(?![!M]).*?\*/|(?:--[ \t\r\f\v]|#)[^\n]*"
    return re.compile(name + rb"|" + strings + rb"|" + other, re.S)


def renamed_qualifiers(text: bytes, source: str, target: str, escapes: bool = True) -> bytes:
    """`text` with every name qualified by `source` qualified by `target` instead; strings and
    comments as they were."""
    renamed = quote_identifier(target).encode() + b"."
    return qualifier_pattern(source, escapes).sub(
        lambda m: renamed if m.group("name") is not None else m.group(0), text
    )


def names_database(text: bytes, database: str, escapes: bool = True) -> bool:
    """Whether `text` holds a name qualified with `database` (outside strings and comments)."""
    return any(m.group("name") is not None for m in qualifier_pattern(database, escapes).finditer(text))


# Words after which `db.x(` is a table with its column list, or a procedure called: not a function.
_NOT_A_FUNCTION = re.compile(
    rb"(?i)(?<!" + _BEFORE_NAME + rb")"
    rb"(?:CALL|INTO|INSERT|REPLACE|IGNORE|LOW_PRIORITY|DELAYED|HIGH_PRIORITY|TABLE)\s*\Z"
)
_ONE_NAME = rb"(?:`(?:[^`]|``)*`|" + _NAME_BYTE + rb"+)"
# The name after a qualifier, then the rest of its chain (`.pkg.f`), then a `(` if it is called.
_FOLLOWING = re.compile(
    rb"\s*(?P<first>" + _ONE_NAME + rb")(?P<rest>(?:\s*\.\s*" + _ONE_NAME + rb")*)\s*(?P<call>\()?"
)


def unqualified_names(text: bytes, database: str, escapes: bool = True) -> bytes:
    """`text` (a trigger, routine or event) with `database`'s qualifier dropped from the names it
    qualifies, where the name means the same without it; strings and comments as they were.

    A stored program runs with its own database as the default one, so in its body `db.log` and `log`
    name the same table (or view, procedure, sequence). Two names keep their qualifier: a function
    call, `db.f(…)` or `db.pkg.f(…)`, since unqualified a native function or a UDF of that name (or a
    database named like the package) would win over the stored function; and `db.NEW.x`/`db.OLD.x`,
    a table named new or old, which in a trigger would read as the row. A name kept qualified is
    refused by a restore (the backup warns of it)."""

    def one(m: re.Match[bytes]) -> bytes:
        if m.group("name") is None or _keeps_qualifier(text, m.start(), m.end()):
            return m.group(0)
        return b""

    return qualifier_pattern(database, escapes).sub(one, text)


def _keeps_qualifier(text: bytes, start: int, at: int) -> bool:
    """Whether the name at `at`, qualified from `start`, must stay qualified (see unqualified_names)."""
    following = _FOLLOWING.match(text, at)
    if following is None:
        return True  # not a name we can read: leave it as written
    if following.group("call"):  # (a MariaDB package's routine, `db.pkg.f(`, is a call too)
        return _NOT_A_FUNCTION.search(text[max(0, start - 200) : start]) is None
    first = following.group("first").strip(b"`").lower()
    return bool(following.group("rest")) and first in (b"new", b"old")
