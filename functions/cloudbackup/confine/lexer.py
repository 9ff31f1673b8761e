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
from functools import lru_cache
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
_SPACES = b" \t\r\n\f\v"
# Bytes from 0x80 up that the server reads as whitespace under these client character sets (a no-break
# space in their ctype tables, as both servers showed), so that `SELECT\xa0*\xa0FROM\xa0mysql.user` is
# four tokens to a latin1 session. The other character sets of MySQL and MariaDB have none; one not
# named here (a new one) is read with both as spaces, which only ever splits words more.
_HIGH_SPACES = {
    **dict.fromkeys(
        ("latin1", "latin2", "latin5", "latin7", "dec8", "hebrew", "greek", "cp1250", "armscii8", "geostd8"),
        b"\xa0",
    ),
    **dict.fromkeys(("cp866", "keybcs2", "cp852"), b"\xff"),
}
_NO_HIGH_SPACES = frozenset(
    {
        *("utf8mb4", "utf8mb3", "utf8", "binary", "ascii", "big5", "cp850", "hp8", "koi8r", "swe7", "ujis"),
        *("sjis", "tis620", "euckr", "koi8u", "gb2312", "gbk", "macce", "macroman", "cp1251", "cp1256"),
        *("cp1257", "cp932", "eucjpms", "gb18030", "ucs2", "utf16", "utf16le", "utf32"),
    }
)
_BACKTICK = re.compile(rb"`((?:[^`]|``)*+)`")
_BRACKETS = re.compile(rb"\[((?:[^\]]|\]\])*+)\]")  # MariaDB's sql_mode MSSQL: `[a]]b]` is the name a]b
_CONDITIONAL = re.compile(rb"/\*M?!([0-9]*+)")
_READ_ON = 1 << 62  # (hidden_until of a conditional comment the server runs: past any position)
# A backslash outside quoted text is no SQL the server runs (nor any dump's code), but the stock client reads
# it as one of its own commands, wherever the client reads code (conditional comments too, which a server
# may skip): `\!` runs a shell command on the operator's machine, `\u` switches the database every later
# statement goes to, `\.` reads a local file, `\T` writes one. A file this check accepts must stay
# harmless restored by hand, as README shows (`zstd -dc F | mysql copy`).
_CLIENT_COMMAND = "holds a backslash outside quoted text, which the mysql client runs as one of its commands"
# What the client counts as a space after `--` (my_isspace); the server reads a comment before any control
# character (DASH_COMMENT_AFTER).
_CLIENT_SPACES = b" \t\n\v\f\r"
_OPERATORS = (b":=", b"<=>", b">=", b"<=", b"<>", b"!=", b"||", b"&&", b"->>", b"->", b"<<", b">>")


def _quoted(quote: bytes, escapes: bool) -> re.Pattern[bytes]:
    q = re.escape(quote)
    if escapes:
        body = rb"[^" + q + rb"\\]*+(?:(?:\\[\s\S]|" + q + q + rb")[^" + q + rb"\\]*+)*+"
    else:
        body = rb"[^" + q + rb"]*+(?:" + q + q + rb"[^" + q + rb"]*+)*+"
    return re.compile(q + b"(" + body + b")" + q)


_STRINGS = {(escapes, quote): _quoted(quote, escapes) for escapes in (True, False) for quote in (b"'", b'"')}


class _Reading(NamedTuple):
    """How the server reads code under one client character set and quote modes."""

    whitespace: re.Pattern[bytes]
    word: re.Pattern[bytes]
    number: re.Pattern[bytes]
    variable: re.Pattern[bytes]
    single: re.Pattern[bytes]  # '…'
    double: re.Pattern[bytes]  # "…": a string, or under ANSI_QUOTES a quoted name


@lru_cache(maxsize=16)
def _reading(high_spaces: bytes, escapes: bool, ansi_quotes: bool) -> _Reading:
    # Bytes from 0x80 up are parts of names and words, except the character set's spaces.
    high = b"".join(re.escape(bytes([c])) for c in range(0x80, 0x100) if c not in high_spaces)
    name = rb"0-9A-Za-z_$" + high
    # (Under ANSI_QUOTES a "…" is a quoted name, where a backslash is a character like any other.)
    single, double = _STRINGS[(escapes, b"'")], _STRINGS[(escapes and not ansi_quotes, b'"')]
    return _Reading(
        whitespace=re.compile(b"[" + re.escape(_SPACES + high_spaces) + b"]++"),
        word=re.compile(b"[" + name + b"]++"),
        number=re.compile(
            rb"(?:0x[0-9A-Fa-f]++|0b[01]++|[0-9]++(?:\.[0-9]*+)?(?:[eE][-+]?[0-9]++)?)(?![" + name + b"])"
        ),
        # A user variable's quoted name reads as that quote does elsewhere: `@'a\'` is the name `a\`
        # without backslash escapes, and `@"a\"` is under ANSI_QUOTES.
        variable=re.compile(
            rb"@@?(?:`(?:[^`]|``)*+`|" + single.pattern + b"|" + double.pattern + b"|[" + name + b".]*+)"
        ),
        single=single,
        double=double,
    )


def _high_spaces(charset: str) -> bytes:
    return b"" if charset in _NO_HIGH_SPACES else _HIGH_SPACES.get(charset, b"\xa0\xff")


def tokens(
    sql: bytes,
    *,
    escapes: bool = True,
    ansi_quotes: bool = False,
    runs: Callable[[bytes], bool | None] | None = None,
    charset: str = "utf8mb4",
    brackets: bool = False,
) -> list[Token]:
    """Every token of `sql`; raises LexError on what the server could read otherwise than we do.
    `runs(opener)`: True when the server is known to run the code of a conditional comment so opened.
    `charset`: the client character set the server reads `sql` in (lower case). `brackets`: `[…]`
    quotes a name (MariaDB's sql_mode MSSQL)."""
    out: list[Token] = []
    pos, end = 0, len(sql)
    # Where the open conditional comment ends: its first `*/`; _READ_ON when the server runs it, so that
    # the first `*/` outside quotes and comments ends it; -1 when none is open.
    hidden_until = -1
    opener = b""  # that comment's opener
    reading = _reading(_high_spaces(charset), escapes, ansi_quotes)
    while pos < end:
        m = reading.whitespace.match(sql, pos)
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
            if sql.startswith(b"/*+", pos) and b"\\" in sql[pos:close]:
                raise LexError(_CLIENT_COMMAND + " (the client reads an optimizer hint's comment as code)")
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
            if c != 0x23 and pos + 2 < end and sql[pos + 2] not in _CLIENT_SPACES:
                # The stock client reads on as code there: its quotes, its backslash commands. What it runs
                # restored by hand would be other than what this check read.
                raise LexError(
                    "a `--` before a control character is a comment to the server, code to the client"
                )
            pos = end if newline == -1 else newline + 1
            continue
        if c == 0x27 or c == 0x22:  # ' or "
            m = (reading.single if c == 0x27 else reading.double).match(sql, pos)
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
        if c == 0x5B and brackets:  # [
            m = _BRACKETS.match(sql, pos)
            if m is None:
                raise LexError("a quoted name is not closed")
            out.append(Token("name", m.group(1).replace(b"]]", b"]"), hidden))
            pos = m.end()
            continue
        if c == 0x40:  # @
            m = reading.variable.match(sql, pos)
            assert m is not None  # matches at least `@`
            out.append(Token("var", m.group(0).lower(), hidden))
            pos = m.end()
            continue
        m = reading.number.match(sql, pos)
        if m:
            out.append(Token("number", m.group(0), hidden))
            pos = m.end()
            continue
        m = reading.word.match(sql, pos)
        if m:
            out.append(Token("word", m.group(0).upper(), hidden, m.group(0)))
            pos = m.end()
            continue
        if c == 0x5C and not sql.startswith(b"\\-", pos):  # (`\-`: MariaDB's sandbox, which only forbids)
            raise LexError(_CLIENT_COMMAND)
        op = next((o for o in _OPERATORS if sql.startswith(o, pos)), sql[pos : pos + 1])
        out.append(Token("op", op, hidden))
        pos += len(op)
    if hidden_until >= 0:
        raise LexError("a conditional comment is not closed")
    return out
