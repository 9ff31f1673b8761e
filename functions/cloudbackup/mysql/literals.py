"""The literals of a row statement's VALUES list, column by column, as LOAD DATA may take them.

LOAD DATA stores a value as the INSERT would only for the kinds of literal its column's type reads
alike (load_data.py). Proving that reads every row with a regex (`rows_pattern`): about 0.6 s of
client CPU per 1M rows of six columns, which a loader thread spent on the cores the server needed.
The check before loading reads every row anyway, while the server waits, in two processes
(confine/lanes.py): there each big row statement's kinds are guessed from its first rows and proven
on all of them with the pattern the loader would use (`proven_kinds`); the loader then only compares
them with the column types (`fits`), and reads the rows itself when nothing was proven.
"""

from __future__ import annotations

import functools
import re

STRING = rb"'[^'\\]*+(?:\\[0'\"bnrtZ\\][^'\\]*+)*+'"
INTEGER = rb"-?[0-9]++"
DECIMAL = rb"-?[0-9]++(?:\.[0-9]++)?"
FLOAT = rb"-?[0-9]++(?:\.[0-9]++)?(?:[eE][-+]?[0-9]++)?"
HEX = rb"(?:X'(?:[0-9A-F][0-9A-F])*+'|0x(?:[0-9A-Fa-f][0-9A-Fa-f])++)"  # ours, and mysqldump --hex-blob
_PLAIN_STRING = rb"'[^']*+'"  # STRING, in a statement without backslashes
NO_LITERAL = rb"(?!)"  # a column that was NULL in every row

# A statement's kinds: per column, an index into KINDS. INTEGER ⊂ DECIMAL ⊂ FLOAT, as languages: a
# column proven of a narrower number kind fits a wider one.
KINDS = (INTEGER, DECIMAL, FLOAT, STRING, HEX, NO_LITERAL)
Kinds = tuple[int, ...]
_NUMBERS = (INTEGER, DECIMAL, FLOAT)
_NONE = KINDS.index(NO_LITERAL)
# The rows a guess reads: at least SAMPLE_ROWS, then on until every column has shown a value, up to
# SAMPLE_ROWS_MAX; a column NULL in all of them is guessed NULL throughout.
SAMPLE_ROWS, SAMPLE_ROWS_MAX = 8, 64

_HEAD = re.compile(
    rb"INSERT\s++INTO\s++(`(?:[^`]|``)++`)\s*+(?:\(\s*+((?:`(?:[^`]|``)++`\s*+,\s*+)*+`(?:[^`]|``)++`)\s*+\)"
    rb"\s*+)?VALUES\s*+\("
)
_FIELD = re.compile(rb"(NULL)|(" + STRING + rb")|(" + HEX + rb")|-?[0-9]++(\.[0-9]++)?([eE][-+]?[0-9]++)?")


def head(sql: bytes) -> re.Match[bytes] | None:
    """The `INSERT INTO t [(columns)] VALUES (` a row statement starts with, if it has that shape."""
    return _HEAD.match(sql)


def values_end(sql: bytes, start: int) -> int | None:
    """Where the VALUES list that starts at `start` ends: at its last `)`, before trailing blanks."""
    end = len(sql) - 1
    while end > start and sql[end] in b" \t\r\n":  # (no rstrip: it would copy the statement)
        end -= 1
    return end if end >= start and sql[end] == 0x29 else None  # `)`


def rows_pattern(literals: tuple[bytes, ...], sql: bytes) -> re.Pattern[bytes]:
    """A VALUES list (without its outer parentheses) whose every row holds, per column, that column's
    literal or NULL: the pattern that reads it in `sql`. Where `sql` holds no NULL, or no backslash,
    a simpler pattern reads the same there, about twice as fast (a string is then a run of anything
    but a quote, which the regex engine scans like memchr)."""
    return _rows_pattern(literals, b"NULL" in sql, b"\\" in sql)


@functools.lru_cache(maxsize=256)
def _rows_pattern(literals: tuple[bytes, ...], nulls: bool, escapes: bool) -> re.Pattern[bytes]:
    parts = (literal if escapes or literal != STRING else _PLAIN_STRING for literal in literals)
    row = b",".join(b"(?:" + part + b"|NULL)" if nulls else part for part in parts)
    return re.compile(row + rb"(?:\),\(" + row + rb")*+")


def proven_kinds(sql: bytes) -> Kinds | None:
    """The kinds of a row statement's columns, proven on every row; None if it has another shape, or
    its first rows guess wrong (a column of integers that holds 1.5 further on)."""
    m = head(sql)
    end = None if m is None else values_end(sql, m.end())
    if m is None or end is None:
        return None
    kinds = _guess(sql, m.end(), end)
    if kinds is None or not rows_pattern(tuple(KINDS[k] for k in kinds), sql).fullmatch(sql, m.end(), end):
        return None
    return tuple(kinds)


def fits(literals: tuple[bytes, ...], kinds: Kinds) -> bool:
    """Whether rows proven of `kinds` match rows_pattern(literals) too: each column's kind is its
    literal, a narrower number, or NULL throughout."""
    return len(literals) == len(kinds) and all(
        KINDS[kind] == literal
        or kind == _NONE
        or (literal in _NUMBERS and KINDS[kind] in _NUMBERS and kind <= _NUMBERS.index(literal))
        for literal, kind in zip(literals, kinds, strict=True)
    )


def _guess(sql: bytes, pos: int, end: int) -> list[int] | None:
    """The kinds the first rows hold (the widest number seen); None on another shape."""
    kinds: list[int] = []
    for row in range(SAMPLE_ROWS_MAX):
        if row >= SAMPLE_ROWS and _NONE not in kinds:
            break
        column = 0
        while True:
            m = _FIELD.match(sql, pos, end)
            if m is None:
                return None
            kind = _kind(m)
            if row == 0:
                kinds.append(kind)
            elif column >= len(kinds):
                return None
            else:
                joined = _join(kinds[column], kind)
                if joined is None:
                    return None
                kinds[column] = joined
            column, pos = column + 1, m.end()
            if pos < end and sql[pos] == 0x2C:  # `,`: the next column
                pos += 1
                continue
            break
        if column != len(kinds):
            return None
        if pos == end:
            break
        if not sql.startswith(b"),(", pos):
            return None
        pos += 3
    return kinds


def _kind(m: re.Match[bytes]) -> int:
    if m.group(1):
        return _NONE
    if m.group(2):
        return KINDS.index(STRING)
    if m.group(3):
        return KINDS.index(HEX)
    return KINDS.index(FLOAT if m.group(5) else DECIMAL if m.group(4) else INTEGER)


def _join(seen: int, kind: int) -> int | None:
    """One column's kind after another row: NULL says nothing, numbers widen, other mixes fail."""
    if seen == kind or kind == _NONE:
        return seen
    if seen == _NONE:
        return kind
    if KINDS[seen] in _NUMBERS and KINDS[kind] in _NUMBERS:
        return max(seen, kind)
    return None
