"""Tokens of one SQL statement, as the server reads them, for the confinement check.

Comments are dropped (so `DROP /**/ DATABASE` reads as DROP DATABASE), conditional comments
(`/*!50003 … */`, `/*M!100600 … */`) are code whose tokens are marked `hidden`: the server skips them
when its version is lower, so the check looks at the statement both with and without them. A
conditional comment must end at the first `*/` after it (where the server ends it when it skips it):
one whose end hides inside a quoted text could show the server other code than the check saw.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from cloudbackup.errors import OperationError


class Token(NamedTuple):
    kind: str  # word, name (quoted identifier), string, number, var, op
    text: bytes  # words upper-cased; quoted names and strings without their quotes (raw)
    hidden: bytes  # inside a conditional comment: its opener (`/*!40101`, `/*M!100616`); b"" when not
    raw: bytes = b""  # a word as written (names of databases keep their case)

    @property
    def word(self) -> str:
        """`text` as a string, for comparing with keywords and for messages. A word may hold any
        byte from 0x80 up, UTF-8 or not (a latin1 file, a crafted one): such bytes read as U+FFFD,
        which no keyword holds."""
        return self.text.decode("utf-8", "replace")


class LexError(OperationError):
    """The statement cannot be read as the server would (unterminated text or comment)."""


_WS = re.compile(rb"[ \t\r\n\f\v]++")
_WORD = re.compile(rb"[0-9A-Za-z_$\x80-\xff]++")
_NUMBER = re.compile(
    rb"(?:0x[0-9A-Fa-f]++|0b[01]++|[0-9]++(?:\.[0-9]*+)?(?:[eE][-+]?[0-9]++)?)(?![0-9A-Za-z_$\x80-\xff])"
)
_VAR = re.compile(
    rb"@@?(?:`(?:[^`]|``)*+`|'(?:[^'\\]|\\.|'')*+'|\"(?:[^\"\\]|\\.)*+\"|[0-9A-Za-z_$.\x80-\xff]*+)"
)
_BACKTICK = re.compile(rb"`((?:[^`]|``)*+)`")
_CONDITIONAL = re.compile(rb"/\*M?!([0-9]*+)")
_OPERATORS = (b":=", b"<=>", b">=", b"<=", b"<>", b"!=", b"||", b"&&", b"->>", b"->", b"<<", b">>")


def _quoted(quote: bytes, escapes: bool) -> re.Pattern[bytes]:
    q = re.escape(quote)
    if escapes:
        body = rb"[^" + q + rb"\\]*+(?:(?:\\[\s\S]|" + q + q + rb")[^" + q + rb"\\]*+)*+"
    else:
        body = rb"[^" + q + rb"]*+(?:" + q + q + rb"[^" + q + rb"]*+)*+"
    return re.compile(q + b"(" + body + b")" + q)


_STRINGS = {(escapes, quote): _quoted(quote, escapes) for escapes in (True, False) for quote in (b"'", b'"')}


def tokens(sql: bytes, *, escapes: bool = True, ansi_quotes: bool = False) -> list[Token]:
    """Every token of `sql`; raises LexError on what the server could read otherwise than we do."""
    out: list[Token] = []
    pos, end = 0, len(sql)
    hidden_until = -1  # where the open conditional comment ends (its first `*/`), -1 when none
    opener = b""  # that comment's opener
    single, double = _STRINGS[(escapes, b"'")], _STRINGS[(escapes, b'"')]
    while pos < end:
        m = _WS.match(sql, pos)
        if m:
            pos = m.end()
            continue
        c = sql[pos]
        hidden = opener if hidden_until >= 0 else b""
        if c == 0x2F and sql.startswith(b"/*", pos):  # `/`
            cond = _CONDITIONAL.match(sql, pos)
            if cond and not hidden:
                close = sql.find(b"*/", cond.end())
                if close == -1:
                    raise LexError("a conditional comment is not closed")
                hidden_until, pos, opener = close, cond.end(), cond.group(0)
                continue
            close = sql.find(b"*/", pos + 2)
            if close == -1:
                raise LexError("a comment is not closed")
            pos = close + 2
            continue
        if c == 0x2A and hidden and sql.startswith(b"*/", pos):  # `*/` closing the conditional comment
            if pos != hidden_until:
                raise LexError("a conditional comment ends inside quoted text")
            hidden_until, pos = -1, pos + 2
            continue
        if hidden and pos > hidden_until:
            raise LexError("a conditional comment ends inside quoted text")
        if c == 0x23 or (sql.startswith(b"--", pos) and (pos + 2 >= end or sql[pos + 2] in b" \t\r\n\f\v")):
            newline = sql.find(b"\n", pos)
            if hidden and (newline == -1 or newline > hidden_until):
                raise LexError("a line comment runs past the end of a conditional comment")
            pos = end if newline == -1 else newline + 1
            continue
        if c == 0x27 or c == 0x22:  # ' or "
            m = (single if c == 0x27 else double).match(sql, pos)
            if m is None:
                raise LexError("a quoted text is not closed")
            kind = "name" if c == 0x22 and ansi_quotes else "string"
            out.append(Token(kind, m.group(1), hidden))
            pos = m.end()
            continue
        if c == 0x60:  # `
            m = _BACKTICK.match(sql, pos)
            if m is None:
                raise LexError("a quoted name is not closed")
            out.append(Token("name", m.group(1).replace(b"``", b"`"), hidden))
            pos = m.end()
            continue
        if c == 0x40:  # @
            m = _VAR.match(sql, pos)
            assert m is not None  # matches at least `@`
            out.append(Token("var", m.group(0).lower(), hidden))
            pos = m.end()
            continue
        m = _NUMBER.match(sql, pos)
        if m:
            out.append(Token("number", m.group(0), hidden))
            pos = m.end()
            continue
        m = _WORD.match(sql, pos)
        if m:
            out.append(Token("word", m.group(0).upper(), hidden, m.group(0)))
            pos = m.end()
            continue
        op = next((o for o in _OPERATORS if sql.startswith(o, pos)), sql[pos : pos + 1])
        out.append(Token("op", op, hidden))
        pos += len(op)
    if hidden_until >= 0:
        raise LexError("a conditional comment is not closed")
    return out
