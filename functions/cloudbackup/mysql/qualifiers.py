"""Names qualified with one database, found in SQL text without touching its strings and comments.

Point-in-time replay points a logged statement's names at the restore's target (renamed_qualifiers).
Only names are read: `COMMENT 'copy of shop.t'` stays as written.
"""

from __future__ import annotations

import functools
import re

from cloudbackup.mysql.identifiers import quote_identifier

# A bare name's bytes (UTF-8 names included), and what may come before one: `@a.b` is a user variable.
_NAME_BYTE = rb"[\w$\x80-\xff]"
_BEFORE_NAME = rb"[\w`$@\x80-\xff]"


@functools.lru_cache(maxsize=64)
def qualifier_pattern(database: str, escapes: bool = True) -> re.Pattern[bytes]:
    """`db`. or db. as a name qualifier (backquoted, or bare between word boundaries), in group
    `name`; or else a string, another backquoted name or a comment, matched whole so that nothing
    inside one is taken for a qualifier. (Conditional comments `/*!…*/` are code: read inside.)"""
    quoted = re.escape(quote_identifier(database).encode())
    bare = re.escape(database.encode())
    qualifier = rb"(?:" + quoted + rb"|(?<!" + _BEFORE_NAME + rb")" + bare + rb")"
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
