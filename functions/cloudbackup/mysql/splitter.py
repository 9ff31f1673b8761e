"""Split a stream of SQL bytes into statements, the way the mysql command-line client does.

Works on bytes (dumps may hold bytes that are not UTF-8), over chunks with bounded memory: only the
statement being read is buffered. Understands quotes with backslash and doubled-quote escapes,
backticks, `--`/`#`/`/* */` comments, conditional comments (`/*!40101 … */`, `/*M!… */`, whose
content is code as for the client), `DELIMITER` changes and MariaDB's sandbox first line.

Speed: Python must not look at every byte, nor at every string of a multi-row INSERT. Two scanners:
- the fast path takes the region up to the next delimiter candidate (`bytes.find`, usually `;\n`). If
  the region holds no marker (another delimiter, comment opener, backtick, raw `"`), counting its
  unescaped quotes says whether the candidate is inside a string. Otherwise one match of the careful
  scanner's possessive regex reads the whole region in C (rows with `"` in their strings, as JSON
  columns have, take this way) and stops at the candidate, at a string that runs past it, or at
  something unusual in the code (a comment, a backtick), which hands over to
- the careful scanner: the same regex over a small window, with Python deciding only at delimiters,
  comment openers and buffer ends. It always stops on a token boundary, so the two can take turns.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

DEFAULT_DELIMITER = b";"
_WS = b" \t\r\n\f\v"
# `--` starts a comment before a space or any control character (the server's my_isspace/my_iscntrl)
DASH_COMMENT_AFTER = bytes(range(0x21)) + b"\x7f"
_SKIP_WS = re.compile(rb"[ \t\r\n\f\v]*+")
_DELIMITER_CMD = re.compile(rb"(?i)delimiter[ \t]")
_SANDBOX = b"/*M!999999\\-"  # mariadb-dump's first line: a client command, not SQL
_LOOKAHEAD = 12  # bytes needed to decide what starts at a position (`delimiter `, `/*M!`, `-- `)
_CAREFUL_WINDOW = 4096
_FEW_NEWLINES = 8  # newlines counted one by one before the rest are counted in one pass
_KNOWN_MAX = 16 << 20  # a known statement is at most this long (a dump's are ~1 MiB)
_STRING_TOKEN = re.compile(rb"(?s)'[^'\\]*+(?:\\.[^'\\]*+)*+'")
_PLAIN_STRING_TOKEN = re.compile(rb"'[^']*+'")  # NO_BACKSLASH_ESCAPES: only '' inside
_PLAIN_DQ_TOKEN = re.compile(rb'"[^"]*+"')  # ANSI_QUOTES identifiers, or NO_BACKSLASH_ESCAPES strings
_QUOTED_TOKEN = {
    0x27: _STRING_TOKEN,
    0x22: re.compile(rb'(?s)"[^"\\]*+(?:\\.[^"\\]*+)*+"'),
    0x60: re.compile(rb"`[^`]*+`"),
}


@dataclass
class QuoteModes:
    """How the session reads quotes, as the server reports it after each statement (the mysql client
    follows the same status flags): sql_mode NO_BACKSLASH_ESCAPES and ANSI_QUOTES. The consumer of
    split_statements may change these between statements; they apply from the next statement on.
    `brackets`: MariaDB's sql_mode MSSQL, where `[…]` quotes a name; no status flag reports it, so the
    loader asks the server after a SET of sql_mode. (The splitter ignores it: a `;` or quote inside
    brackets only splits a statement into pieces the server refuses, each checked on its own.) MySQL
    reports no ANSI_QUOTES either: there the loader follows the sql_mode the server says it has."""

    backslash_escapes: bool = True
    ansi_quotes: bool = False
    brackets: bool = False

    def follow(self, sql_mode: str) -> None:
        """Read quotes as a session with this sql_mode (as @@sql_mode shows it, or as a SET names it)."""
        flags = {part.strip().upper() for part in sql_mode.split(",")}
        self.backslash_escapes = "NO_BACKSLASH_ESCAPES" not in flags
        self.ansi_quotes = bool(flags & ANSI_QUOTES_MODES)
        self.brackets = "MSSQL" in flags


# sql_mode values that turn ANSI_QUOTES on: ANSI, and MariaDB's modes named after other databases
# (`SET sql_mode = 'ORACLE'` reads "…" as a name there, as @@sql_mode then shows).
ANSI_QUOTES_MODES = frozenset({"ANSI_QUOTES", "ANSI", "ORACLE", "MSSQL", "DB2", "POSTGRESQL", "MAXDB"})


class Statement(NamedTuple):
    number: int  # 1-based ordinal in the stream
    line: int  # 1-based line where the statement starts
    sql: bytes


class StatementTooLong(Exception):
    """A statement (or comment) went on past the `max_statement_bytes` its caller allowed: raised as
    soon as that many bytes are read, never once it is held whole. `number` and `line`: where it starts."""

    def __init__(self, limit: int, number: int, line: int) -> None:
        super().__init__(f"statement {number} (line {line}) is longer than {limit:,} bytes")
        self.limit, self.number, self.line = limit, number, line


class _Need(Exception):
    """More bytes are needed to decide (internal control flow)."""


class _End(Exception):
    """The statement ends at `at` (the delimiter's position)."""

    def __init__(self, at: int) -> None:
        self.at = at


@lru_cache(maxsize=32)
def _code_pattern(delimiter: bytes, escapes: bool = True, ansi: bool = False) -> re.Pattern[bytes]:
    """Runs of code that cannot end a statement or start a comment, as one possessive repetition.

    The match stops at a delimiter, a comment opener, or where the buffer (or window) ends too
    early to decide (an unterminated string, a lone `-` or `/`): always on a token boundary.
    """
    first = delimiter[:1]
    stops = set(b"'\"`#-/") | set(first)
    run = b"[^" + b"".join(re.escape(bytes([c])) for c in sorted(stops)) + b"]++"
    # A byte that could start the delimiter is code only when the full delimiter is visibly not there.
    not_delim = b"(?=[\\s\\S]{%d})(?!" % len(delimiter) + re.escape(delimiter) + b")"
    tokens = _quoted_tokens(escapes, ansi)
    alternatives = [
        run,
        tokens[0x27].pattern.removeprefix(b"(?s)"),
        tokens[0x22].pattern.removeprefix(b"(?s)"),
        tokens[0x60].pattern,
        (not_delim if first == b"-" else b"") + rb"-(?=[^-]|-[^\x00-\x20\x7f])",  # not `-- `
        (not_delim if first == b"/" else b"") + rb"/(?=[^*])",  # not a comment opener
    ]
    if first not in b"'\"`#-/" and len(delimiter) > 1:
        alternatives.append(not_delim + re.escape(first))  # `$` of `$$`, `;` before `;;`
    return re.compile(b"(?s)(?:" + b"|".join(alternatives) + b")*+")


def _quoted_tokens(escapes: bool, ansi: bool) -> dict[int, re.Pattern[bytes]]:
    if not escapes:
        return {0x27: _PLAIN_STRING_TOKEN, 0x22: _PLAIN_DQ_TOKEN, 0x60: _QUOTED_TOKEN[0x60]}
    if ansi:
        return {**_QUOTED_TOKEN, 0x22: _PLAIN_DQ_TOKEN}
    return _QUOTED_TOKEN


class _Scanner:
    def __init__(
        self, chunks: Iterable[bytes], first_number: int, modes: QuoteModes, max_buffer: int | None = None
    ) -> None:
        self.max_buffer = max_buffer
        self.chunks = iter(chunks)
        self.buf = bytearray()
        self.eof = False
        self.number = first_number - 1
        self.lines_before = 0  # newlines before buf[counted]
        self.counted = 0
        self.careful_until = 0  # the careful scanner runs below this position
        self.careful_span = _CAREFUL_WINDOW
        self.modes = modes
        self.escapes, self.ansi = modes.backslash_escapes, modes.ansi_quotes
        self.set_delimiter(DEFAULT_DELIMITER)

    def set_delimiter(self, delimiter: bytes) -> None:
        self.delimiter = delimiter
        self.code = _code_pattern(delimiter, self.escapes, self.ansi)
        self.tokens = _quoted_tokens(self.escapes, self.ansi)

    def follow_modes(self) -> None:
        if (self.modes.backslash_escapes, self.modes.ansi_quotes) != (self.escapes, self.ansi):
            self.escapes, self.ansi = self.modes.backslash_escapes, self.modes.ansi_quotes
            self.set_delimiter(self.delimiter)

    def more(self, keep_from: int) -> int:
        """Drop bytes before keep_from, append the next chunk; returns how many bytes were dropped."""
        if keep_from > self.counted:
            self.lines_before += _newlines(self.buf, self.counted, keep_from)
        self.counted = max(self.counted, keep_from) - keep_from
        self.careful_until -= keep_from
        del self.buf[:keep_from]
        # (The buffer now starts where the statement or comment does and holds no end of it, bar the few
        # bytes of look-ahead that decide one: past the limit plus those, it is too long.)
        if self.max_buffer is not None and len(self.buf) > self.max_buffer + _LOOKAHEAD + len(self.delimiter):
            raise StatementTooLong(self.max_buffer, self.number + 1, self._first_line())
        for chunk in self.chunks:
            if chunk:
                self.buf += chunk
                return keep_from
        self.eof = True
        return keep_from

    def _first_line(self) -> int:
        """The line of buf[0] (where a statement too long starts)."""
        return self.lines_before - _newlines(self.buf, 0, self.counted) + 1

    def line_at(self, pos: int) -> int:
        self.lines_before += _newlines(self.buf, self.counted, pos)
        self.counted = pos
        return self.lines_before + 1

    def emit(self, start: int, end: int, line: int) -> Statement | None:
        buf = self.buf
        while end > start and buf[end - 1] in _WS:
            end -= 1
        if end == start:
            return None
        if self.max_buffer is not None and end - start > self.max_buffer:
            raise StatementTooLong(self.max_buffer, self.number + 1, line)
        self.number += 1
        with memoryview(buf) as view:
            return Statement(self.number, line, bytes(view[start:end]))


def split_statements(
    chunks: Iterable[bytes],
    *,
    first_number: int = 1,
    modes: QuoteModes | None = None,
    known: Callable[[memoryview], bool] | None = None,
    max_statement_bytes: int | None = None,
) -> Iterator[Statement]:
    """Yield the statements of a SQL byte stream, without delimiters, comments between statements
    or surrounding whitespace. `DELIMITER` lines are applied, not yielded.

    `known(sql)`, when given, is asked about the bytes from a statement's start to the next `;\n`
    while the delimiter is `;`: True says they are a whole statement already read to its end under
    the quote modes in force (a restore's row statement, accepted before loading by its digest), so
    they are not read again here. With `max_statement_bytes`, a statement (or comment) still
    longer than that raises StatementTooLong, as soon as that many bytes of it are read (plus a chunk
    and a few bytes of look-ahead), instead of being read on in memory."""
    s = _Scanner(chunks, first_number, modes or QuoteModes(), max_statement_bytes)
    pos = 0
    while True:
        # Between statements: skip whitespace, comments, empty statements, client commands.
        pos = _SKIP_WS.match(s.buf, pos).end()  # type: ignore[union-attr]
        if len(s.buf) - pos < _LOOKAHEAD and not s.eof:
            pos -= s.more(pos)
            continue
        if pos >= len(s.buf):
            return
        try:
            skip_to = _skip_between(s, pos)
        except _Need:
            pos -= s.more(pos)
            continue
        if skip_to != pos:
            pos = skip_to
            continue
        # A statement starts here: scan to its delimiter.
        s.follow_modes()
        start, line = pos, s.line_at(pos)
        if known is not None and s.delimiter == DEFAULT_DELIMITER:
            pos, end = _to_known_end(s, pos, known)
            start = pos
            if end != -1:
                stmt = s.emit(start, end, line)
                pos = end + 1
                if stmt is not None:
                    yield stmt
                continue
        # The head (keywords, backquoted names) goes to the careful scanner, the bulk to the fast path.
        s.careful_until, s.careful_span = pos + _CAREFUL_WINDOW, _CAREFUL_WINDOW
        while True:
            try:
                pos = _advance(s, pos)
            except _Need:
                if s.eof:
                    stmt = s.emit(start, len(s.buf), line)
                    if stmt is not None:
                        yield stmt
                    return
                dropped = s.more(start)
                start -= dropped
                pos -= dropped
            except _End as end:
                stmt = s.emit(start, end.at, line)
                pos = end.at + len(s.delimiter)
                if stmt is not None:
                    yield stmt
                break


def _to_known_end(s: _Scanner, pos: int, known: Callable[[memoryview], bool]) -> tuple[int, int]:
    """Read on to the next `;\n` (within _KNOWN_MAX bytes) and ask `known` about the statement up to
    it: where the statement now starts in the buffer, and where it ends when known (else -1)."""
    searched = pos  # where the search resumes: the bytes before it hold no `;\n`
    most = _KNOWN_MAX if s.max_buffer is None else min(_KNOWN_MAX, s.max_buffer)
    while (end := _semicolon_newline(s.buf, searched)) == -1 and not s.eof and len(s.buf) - pos < most:
        # (not from `pos` again: a statement arrives in many chunks, and that would read it
        # once per chunk; one byte back, for a `;` whose newline comes with the next one)
        searched = max(pos, len(s.buf) - 1)
        dropped = s.more(pos)
        pos, searched = pos - dropped, searched - dropped
    if end != -1:
        with memoryview(s.buf)[pos:end] as sql:
            if known(sql):
                return pos, end
    return pos, -1


def _newlines(buf: bytearray, start: int, end: int) -> int:
    """How many newlines buf[start:end] holds. A dump's row statement is one line of ~1 MiB: finding
    its few newlines (a memchr each) reads ~10x faster than bytes.count, which a run of many short
    lines still gets after the first few."""
    count, at = 0, buf.find(b"\n", start, end)
    while at != -1:
        count += 1
        if count == _FEW_NEWLINES:
            return count + buf.count(b"\n", at + 1, end)
        at = buf.find(b"\n", at + 1, end)
    return count


def _semicolon_newline(buf: bytearray, start: int) -> int:
    """Where the first `;\n` at or after `start` is, or -1. A dump's lines are whole statements, so
    newlines are few: finding each (a memchr) and looking back reads ~10x faster than finding the pair."""
    at = buf.find(b"\n", start + 1)
    while at != -1 and buf[at - 1] != 0x3B:  # `;`
        at = buf.find(b"\n", at + 1)
    return at if at == -1 else at - 1


def _advance(s: _Scanner, pos: int) -> int:
    """Move forward inside a statement from a token boundary; raises _End or _Need."""
    if pos >= s.careful_until:
        fast = _fast_path(s, pos)
        if fast is not None:
            return fast
        # Unusual code ahead: look carefully, over longer stretches each time it happens again.
        s.careful_until, s.careful_span = pos + s.careful_span, s.careful_span * 2
    buf = s.buf
    window_end = min(len(buf), s.careful_until)
    stop = s.code.match(buf, pos, window_end).end()  # type: ignore[union-attr]
    if stop == window_end and window_end < len(buf) and stop > pos:
        return stop
    return _decide(s, stop)


def _fast_path(s: _Scanner, pos: int) -> int | None:
    """Jump over plain code and '…' strings in bulk; None when the careful scanner must look.

    Dumps end statements with the delimiter and a newline, and mysqldump never writes a raw newline
    inside a string: so the region up to the next `;\n` is usually one whole statement, checked with a
    handful of C-level calls however many rows and strings it holds.
    """
    buf, delimiter = s.buf, s.delimiter
    candidate = buf.find(delimiter, pos)
    if candidate == pos:
        raise _End(pos)
    line_end = buf.find(delimiter + b"\n", candidate) if candidate != -1 else -1
    if line_end != -1:
        limit = line_end
    else:
        # No end in sight: still consume what is complete, so later chunks do not rescan it.
        limit = buf.rfind(b",", pos, len(buf) - 1) + 1
        if limit <= pos:
            if candidate == -1:
                return None
            limit = candidate
    inside_string = _plain_parity(buf, pos, limit, delimiter, s.escapes)
    if inside_string is None:  # markers in the region: read its tokens in one possessive match
        stop = s.code.match(buf, pos, limit).end()  # type: ignore[union-attr]
        if stop < limit:
            if buf.startswith(delimiter, stop):
                raise _End(stop)  # a delimiter outside strings before the line end
            if buf[stop] == 0x27:  # a string that runs on past `limit`
                return _past_string(s, pos, stop)
            return stop if stop > pos else None  # a comment or unusual quote: the careful scanner
        inside_string = 0
    if not inside_string:
        if limit in (candidate, line_end):
            raise _End(limit)
        return limit
    # `limit` is inside a string: it opened at the last quote before `limit` that is not escaped.
    quote = limit
    while True:
        quote = buf.rfind(b"'", pos, quote)
        if quote == -1:
            return None
        backslashes = 0
        while s.escapes and quote - 1 - backslashes >= pos and buf[quote - 1 - backslashes] == 0x5C:
            backslashes += 1
        if backslashes % 2 == 0:
            break
    return _past_string(s, pos, quote)


def _past_string(s: _Scanner, pos: int, quote: int) -> int:
    """The end of the '…' string that opens at `quote`, or where to resume once more bytes are in."""
    string = s.tokens[0x27].match(s.buf, quote)
    if string is None:  # the string goes on in the next chunk
        if quote > pos:
            return quote
        raise _Need
    return string.end()


def _plain_parity(buf: bytearray, pos: int, limit: int, delimiter: bytes, escapes: bool) -> int | None:
    """1 if `limit` is inside a '…' string, 0 if not, counted in place without copying; None when the
    region holds a marker (delimiter, comment opener, backtick, an unescaped double quote) that only a
    look at the code outside the strings can judge. Dumps of mysqldump's kind escape every `"`."""
    double = buf.count(b'"', pos, limit)
    # Backslashes only occur inside strings: a `"` right after one is inside a string. (Checked first:
    # rows with raw `"` in their strings are common, and the one regex match then reads them faster.)
    if double and (not escapes or double != buf.count(b'\\"', pos, limit)):
        return None
    for marker in (delimiter, b"`", b"#", b"--", b"/*"):
        if buf.find(marker, pos, limit) != -1:
            return None
    return (buf.count(b"'", pos, limit) - _escaped(buf, b"'", pos, limit, escapes)) & 1


def _escaped(buf: bytearray, char: bytes, pos: int, limit: int, escapes: bool) -> int:
    """How many `char` are escaped (after an odd run of backslashes): a quote after a run of r counts
    once for each k ≤ r in count(k backslashes + quote), so the alternating sum is 1 exactly for odd r."""
    if not escapes:
        return 0
    total, k, sign = 0, 1, 1
    while True:
        n = buf.count(b"\\" * k + char, pos, limit)
        if n == 0:
            return total
        total += sign * n
        k, sign = k + 1, -sign


def _decide(s: _Scanner, pos: int) -> int:
    """Where the careful scanner stopped: a delimiter, a comment, or not enough bytes to tell."""
    buf, delimiter = s.buf, s.delimiter
    if pos >= len(buf):
        raise _Need
    if buf.startswith(delimiter, pos):
        raise _End(pos)
    room = len(buf) - pos
    c = buf[pos]
    if c == 0x23:  # `#` comment: part of the statement up to the end of the line
        return _end_of_line(s, pos)
    if c == 0x2D:  # `-`: a `-- ` comment, or the next bytes are needed to tell
        if room < 3 and not s.eof:
            raise _Need
        return _end_of_line(s, pos) if _dash_comment(buf, pos) else pos + 1
    if c == 0x2F:  # `/`
        if room < 4 and not s.eof:
            raise _Need
        if buf.startswith(b"/*!", pos):
            return pos + 3
        if buf.startswith(b"/*M!", pos):
            return pos + 4
        if buf.startswith(b"/*", pos):
            return _end_of_comment(s, pos)
        return pos + 1
    if c in b"'\"`":  # a quoted token longer than the window, or not terminated in this buffer
        token = s.tokens[c].match(buf, pos)
        if token is not None:
            return token.end()
        if s.eof:
            return len(buf)
        raise _Need
    if room < len(delimiter) and delimiter.startswith(bytes(buf[pos:])) and not s.eof:
        raise _Need
    return pos + 1


def _skip_between(s: _Scanner, pos: int) -> int:
    """Where the next statement could start: pos itself if one starts here."""
    buf = s.buf
    c = buf[pos]
    if buf.startswith(s.delimiter, pos):
        return pos + len(s.delimiter)
    if c == 0x23 or (c == 0x2D and _dash_comment(buf, pos)):  # `#`, `-- `
        return _end_of_line(s, pos)
    if c == 0x2F and buf.startswith(b"/*", pos):
        if buf.startswith(_SANDBOX, pos):
            # (to the comment's end only: what follows on its line is code, to the server and to the client)
            return _end_of_comment(s, pos)
        if not (buf.startswith(b"/*!", pos) or buf.startswith(b"/*M!", pos)):
            end = _end_of_comment(s, pos)
            if buf.startswith(b"/*+", pos) and b"\\" in buf[pos:end]:
                # MySQL's client reads an optimizer hint's comment as code, its backslash commands too: it
                # starts a statement, which the check then refuses (confine/lexer.py)
                return pos
            return end
    if c in b"dD" and _DELIMITER_CMD.match(buf, pos):
        eol = _end_of_line(s, pos)
        words = bytes(buf[pos:eol]).split()
        if len(words) >= 2:
            s.set_delimiter(words[1])
        return eol
    return pos


def _dash_comment(buf: bytearray, pos: int) -> bool:
    # (before a space or any control character, as the server reads it: confine/lexer.py)
    return buf.startswith(b"--", pos) and (pos + 2 >= len(buf) or buf[pos + 2] in DASH_COMMENT_AFTER)


def _end_of_line(s: _Scanner, pos: int) -> int:
    eol = s.buf.find(b"\n", pos)
    if eol != -1:
        return eol + 1
    if s.eof:
        return len(s.buf)
    raise _Need


def _end_of_comment(s: _Scanner, pos: int) -> int:
    end = s.buf.find(b"*/", pos + 2)
    if end != -1:
        return end + 2
    if s.eof:
        return len(s.buf)
    raise _Need
