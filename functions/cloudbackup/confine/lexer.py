"""Tokens of one SQL statement, as the server reads them, for the confinement check.

Comments are dropped (so `DROP /**/ DATABASE` reads as DROP DATABASE), conditional comments
(`/*!50003 … */`, `/*M!100600 … */`) are code whose tokens are marked `hidden`: the server skips them
when its version is lower, so the check looks at the statement both with and without them. A server
that skips one ends it at the first `*/` after it, so one whose end hides inside a quoted text could
show that server other code than the check saw: refused, unless the server said it runs that comment
(`runs`). One that runs reads on as code (MySQL and MariaDB alike): quoted texts, comments, and the
first `*/` outside them ends it, as in the stock dumps' triggers and events whose bodies hold comments.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

from cloudbackup.errors import OperationError
from cloudbackup.mysql.splitter import DASH_COMMENT_AFTER


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


# `--` before a byte from 0x80 up is refused: some character sets read one as a space (latin1's 0xA0).
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
_READ_ON = 1 << 62  # (hidden_until of a conditional comment the server runs: past any position)
_OPERATORS = (b":=", b"<=>", b">=", b"<=", b"<>", b"!=", b"||", b"&&", b"->>", b"->", b"<<", b">>")


def _quoted(quote: bytes, escapes: bool) -> re.Pattern[bytes]:
    q = re.escape(quote)
    if escapes:
        body = rb"[^" + q + rb"\\]*+(?:(?:\\[\s\S]|" + q + q + rb")[^" + q + rb"\\]*+)*+"
    else:
        body = rb"[^" + q + rb"]*+(?:" + q + q + rb"[^" + q + rb"]*+)*+"
    return re.compile(q + b"(" + body + b")" + q)


_STRINGS = {(escapes, quote): _quoted(quote, escapes) for escapes in (True, False) for quote in (b"'", b'"')}


def tokens(
    sql: bytes,
    *,
    escapes: bool = True,
    ansi_quotes: bool = False,
    runs: Callable[[bytes], bool | None] | None = None,
) -> list[Token]:
    """Every token of `sql`; raises LexError on what the server could read otherwise than we do.
    `runs(opener)`: True when the server is known to run the code of a conditional comment so opened."""
    out: list[Token] = []
    pos, end = 0, len(sql)
    # Where the open conditional comment ends: its first `*/`; _READ_ON when the server runs it, so that
    # the first `*/` outside quotes and comments ends it; -1 when none is open.
    hidden_until = -1
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
                opener = cond.group(0)
                hidden_until = _READ_ON if runs is not None and runs(opener) else close
                pos = cond.end()
                continue
            if cond and hidden_until == _READ_ON:  # the server refuses one inside another
                raise LexError("a conditional comment opens inside another one")
            close = sql.find(b"*/", pos + 2)
            if close == -1:
                raise LexError("a comment is not closed")
            pos = close + 2
            continue
        if c == 0x2A and hidden and sql.startswith(b"*/", pos):  # `*/` closing the conditional comment
            if pos != hidden_until and hidden_until != _READ_ON:
                raise LexError("a conditional comment ends inside quoted text")
            hidden_until, pos = -1, pos + 2
            continue
        if hidden and pos > hidden_until:
            raise LexError("a conditional comment ends inside quoted text")
        if sql.startswith(b"--", pos) and pos + 2 < end and sql[pos + 2] >= 0x80:
            raise LexError("a `--` comes before a byte a character set may read as a space")
        if c == 0x23 or (
            sql.startswith(b"--", pos) and (pos + 2 >= end or sql[pos + 2] in DASH_COMMENT_AFTER)
        ):
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
