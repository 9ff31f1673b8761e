"""Check that a dump's statements stay inside the database being restored (allow-list: allowed.py).

`Confinement.check(statement)` accepts only the statement kinds dumps contain, refuses any name
qualified with a database and anything that reaches outside the target (files, users, server state,
SQL built at run time), and raises `Refused` naming the statement and why. A restore runs it over the
whole dump before anything is loaded, and again on each statement as it is sent.

Row statements are checked by two C-level regex matches (their head, then a values list made of
literals only), so checking a dump costs little next to loading it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from cloudbackup.confine import allowed
from cloudbackup.confine.lexer import LexError, Token, tokens
from cloudbackup.errors import OperationError, UsageError
from cloudbackup.mysql.definer import definer_of, object_name
from cloudbackup.mysql.identifiers import unqualify_sequence_calls
from cloudbackup.mysql.literals import Kinds, proven_kinds
from cloudbackup.mysql.name_case import Created, made_by
from cloudbackup.mysql.session_text import BACKSLASH_UNSAFE_CHARSETS
from cloudbackup.mysql.splitter import QuoteModes, Statement
from cloudbackup.printable import one_line

# run it; a USE/CREATE DATABASE of the source (the target is ours); or skip it (allowed.SKIPPED_VARIABLES)
Verdict = Literal["run", "database", "skip"]


class Refused(OperationError):
    """A statement a restore must not run: one line naming it and why (and its number, to tell which
    of two refusals comes first)."""

    def __init__(self, message: str, number: int | None = None) -> None:
        super().__init__(message)
        self.number = number


class _No(Exception):
    """Why a statement is refused (internal)."""


class _OtherDatabase(_No):
    """A file of several databases: a usage error (restore one database per file)."""


_NAME = rb"(?:`(?:[^`]|``)++`|[0-9A-Za-z_$\x80-\xff]++)"
_ROWS_HEAD = re.compile(
    rb"(?:INSERT|REPLACE)(?:\s++(?:LOW_PRIORITY|DELAYED|HIGH_PRIORITY|IGNORE))*+\s++(?:INTO\s++)?"
    + _NAME
    + rb"\s*+(?:\(\s*+"
    + _NAME
    + rb"(?:\s*+,\s*+"
    + _NAME
    + rb")*+\s*+\)\s*+)?VALUES?(?![0-9A-Za-z_$])",
    re.IGNORECASE,
)
_ROWS_START = re.compile(rb"(?:INSERT|REPLACE)\b", re.IGNORECASE)
_SEQUENCE_QUALIFIER = re.compile(rb"(?i)\b(?:nextval|lastval)\(\s*(`(?:[^`]|``)+`)\s*\.")


def _values_pattern(escapes: bool, ansi: bool) -> re.Pattern[bytes]:
    """A VALUES list made of literals only: strings, numbers, hex/bit literals, NULL, introducers."""
    if escapes:
        single = rb"'[^'\\]*+(?:(?:\\[\s\S]|'')[^'\\]*+)*+'"
        double = rb'"[^"\\]*+(?:(?:\\[\s\S]|"")[^"\\]*+)*+"'
    else:
        single, double = rb"'[^']*+(?:''[^']*+)*+'", rb'"[^"]*+(?:""[^"]*+)*+"'
    parts = [
        single,
        rb"[\s,()+]++",
        rb"-(?!-)",
        rb"(?:0x[0-9A-Fa-f]*+|0b[01]*+|[0-9]++(?:\.[0-9]*+)?(?:[eE][-+]?[0-9]++)?|\.[0-9]++(?:[eE][-+]?[0-9]++)?)"
        rb"(?![0-9A-Za-z_$])",
        rb"(?i:NULL|DEFAULT|TRUE|FALSE)(?![0-9A-Za-z_$])",
        rb"_[0-9A-Za-z]++(?=[\s'])",  # a character set introducer: _binary'…', _latin1 X'…'
        rb"[xXbBnN](?=')",
    ]
    if not ansi:
        parts.insert(1, double)
    return re.compile(b"(?:" + b"|".join(parts) + b")*+")


_VALUES = {(e, a): _values_pattern(e, a) for e in (True, False) for a in (True, False)}
# Row statements from this size on are remembered once accepted (a dump's are ~1 MiB: a few dozen
# bytes per MiB of memory); a smaller one is cheap to read again.
REMEMBERED_ROWS_BYTES = 256 << 10


def _rows_pattern(string: bytes) -> re.Pattern[bytes]:
    """The same as _VALUES for '…' strings as `string` reads them, for speed: each step is a run of
    digits and punctuation then one string (or a rarer literal), with no alternation to try first:
    about twice as fast on rows. A `"` is accepted only inside a '…' string (QUOTE() leaves them raw
    there); where the lexings could differ, at a `"` string or a backslash outside strings, the pattern
    stops, and the full one decides."""
    return re.compile(
        rb"(?:[\s,()+0-9.]*+(?:" + string + rb"|-(?!-)|(?<=[0-9.])[eE][-+]?[0-9]++|(?<=0)[xX][0-9A-Fa-f]*+"
        rb"|(?<=0)[bB][01]*+|(?i:NULL|DEFAULT|TRUE|FALSE)(?![0-9A-Za-z_$])|_[0-9A-Za-z]++(?=[\s'])"
        rb"|[xXbBnN](?=')))*+[\s,()+0-9.]*+"
    )


# Strings without a backslash in them; and with escape pairs read in place (dropping the pairs first
# costs more than the match when rows hold many backslashes).
_PLAIN_VALUES = _rows_pattern(rb"'[^']*+'")
_ESCAPED_VALUES = _rows_pattern(rb"'[^'\\]*+(?:\\[\s\S][^'\\]*+)*+'")


def is_row_statement(sql: bytes) -> bool:
    """An INSERT or REPLACE: checked by its values alone (Confinement._rows), whatever came before."""
    return _ROWS_START.match(sql, len(sql) - len(sql.lstrip())) is not None


@dataclass
class Confinement:
    """Checks one dump's statements, in order.

    `source`: the database the dump was made of (USE/CREATE DATABASE may name it and nothing else);
    None for a plain file, where the first such statement names it. `databases`: names a qualified name
    must never use (the server's databases, the target, the system schemas), compared in lower case.
    `modes`: how quotes read; with `follow_sql_mode` the check tracks the dump's own SET sql_mode (for
    the pass before loading; while loading, the server reports it to the loader instead).
    """

    where: str
    source: str | None = None
    databases: frozenset[str] = frozenset()
    modes: QuoteModes = field(default_factory=QuoteModes)
    follow_sql_mode: bool = False
    sql_mode: str = ""
    # Whether the server runs the code of a conditional comment opening so (`/*!40101`, `/*M!100616`;
    # None: it would not read it). With it, the pass before loading follows a SET's effects as that
    # server runs it: which comments run differs between servers (MySQL skips `/*M!` ones) and versions.
    # The lexer, too, reads on through quotes and comments to the end of a comment the server runs.
    runs: Callable[[bytes], bool | None] | None = None
    next_number: int = 1
    # The longest statement the target server takes (its max_allowed_packet less one): a longer one
    # could never load, and is refused as soon as the splitter has read that much of it. None: no limit.
    max_statement_bytes: int | None = None
    # SHA-256 (and quote modes) of the big row statements this check, or the one it was made from,
    # accepted: see `_rows`.
    accepted_rows: set[bytes] = field(default_factory=set)
    # With `learn_row_kinds` (the check before loading), the literals' kinds of the big row statements
    # accepted, by the same key, for the loader (see `_rows`); and those of the row statement checked
    # last, if known.
    learn_row_kinds: bool = False
    row_kinds: dict[bytes, Kinds] = field(default_factory=dict)
    last_row_kinds: Kinds | None = None
    # The bytes `knows` last found accepted, and their digest: the check that follows (`_rows`) gets
    # the same statement, and an equal comparison (a memcmp) costs far less than hashing it again.
    _known: tuple[bytes, bytes] | None = field(default=None, repr=False)
    _user_vars: dict[bytes, str] = field(default_factory=dict)
    # The client character set in force (the pass before loading follows it, from the loader's own), and
    # the user variables known to hold a character set's name (mysqldump saves and restores it in them).
    client_charset: str = "utf8mb4"
    _charset_vars: dict[bytes, str] = field(default_factory=dict)
    # The replay of an archived binlog (binlog/replay.py) checks each logged DDL with the same rules:
    # its names are the source's, qualified with the database restored into (`own_database`, which
    # counts as no qualifier), and a database's own DDL also holds RENAME TABLE, TRUNCATE and CREATE
    # TABLE … SELECT, which dumps do not (`binlog_ddl`).
    own_database: str | None = None
    binlog_ddl: bool = False
    # When given (the pass before loading): each object created or altered with a DEFINER clause naming
    # an account, with that account (user@host), for asking once, before anything changes, whether the
    # restoring account may keep them (preflight/check.py check_definers): a trigger comes after its
    # table's rows, so the load would otherwise learn it late. Only DDL is read for it, never rows.
    definers: dict[str, str] | None = None
    # When given (the pass before loading): each session setting the dump gives a named value that a
    # server may lack (a character set, a collation, a named time zone: MySQL's utf8mb4_0900_ai_ci on
    # MariaDB, Europe/Berlin without the time zone tables), with the first object created under it, for
    # asking the target once, before anything changes (preflight/check.py check_session_settings): the
    # SET would otherwise fail where the load reaches it, a trigger's after its table's rows.
    settings: dict[tuple[str, str], str] | None = None
    # When given (the pass before loading a plain file): what each CREATE makes, and the table names a
    # program's body is written with, to find those written in another letter case than the file's
    # tables (preflight/check.py check_dump_name_case): a backup's manifest lists them; a file cannot.
    made: list[Created] | None = None
    _unnamed: list[tuple[str, str]] = field(default_factory=list)  # settings before their first object
    # When given (the pass before loading): the name of each table a CREATE TABLE creates, in order, so
    # that a restore can tell a table frame that creates another table than the one it is indexed as.
    created_tables: list[str] | None = None
    # Whether the statement checked last creates an event, as the server reads it (the loader holds
    # those back: mysql/feed.py), whatever comments stand between its words.
    created_event: bool = False

    def __post_init__(self) -> None:
        names = {n.lower() for n in self.databases} | allowed.SYSTEM_DATABASES
        if self.source:
            names.add(self.source.lower())
        self.databases = frozenset(names)
        if self.follow_sql_mode:
            self._apply_sql_mode(self.sql_mode)

    def check_all(self, statements: Iterable[Statement]) -> int:
        """Check every statement (numbered on from the last); returns how many there were."""
        count = 0
        for stmt in statements:
            self.check(self.unqualified(stmt))
            self.next_number = stmt.number + 1
            count += 1
        return count

    def unqualified(self, stmt: Statement) -> Statement:
        """The statement with `nextval(`source`.`seq`)` unqualified, as SHOW CREATE TABLE writes a
        default calling a sequence of its own database (stock dumps keep it). In a file that names no
        database, the first such qualifier names the source: unqualified, it can only mean the target.
        Run before check(); another database's qualifier stays, and check() refuses it."""
        if is_row_statement(stmt.sql):
            return stmt
        m = _SEQUENCE_QUALIFIER.search(stmt.sql)
        if m is None:
            return stmt
        qualifier = m.group(1)
        name = (qualifier[1:-1].replace(b"``", b"`") if qualifier.startswith(b"`") else qualifier).decode(
            "utf-8", "replace"
        )
        if self.source is None:
            self.source = name
            self.databases = self.databases | {name.lower()}
        if name != self.source:
            return stmt
        return Statement(stmt.number, stmt.line, unqualify_sequence_calls(stmt.sql, self.source))

    def check(self, stmt: Statement) -> Verdict:
        self.last_row_kinds = None  # (set again only by this statement's own reading: `_rows`)
        self.created_event = False
        try:
            return self._check(stmt.sql)
        except _OtherDatabase as other:
            raise UsageError(
                f"{self.where} holds more than one database ({self.source}, {one_line(str(other))}, …) at "
                f"statement {stmt.number} (line {stmt.line}); restore one database per file"
            ) from None
        except (_No, LexError) as why:
            excerpt = one_line(" ".join(stmt.sql[:80].decode("utf-8", "replace").split()))
            # (A _No says what the statement does: "uses …", "is …"; a LexError what cannot be read.)
            reason = one_line(str(why))
            if isinstance(why, LexError):
                reason = f"cannot be read safely: {reason}"
            said = f"statement {stmt.number} (line {stmt.line}) refused, it {reason}"
            raise Refused(f"{self.where}: {said}: {excerpt}", number=stmt.number) from None

    def refusal(self, sql: bytes) -> str | None:
        """Why one statement is refused (what follows "it": "uses …", "is …"), or None: check() for a
        statement that is not part of a numbered stream, and is run as it is or not at all."""
        try:
            verdict = self._check(sql)
        except _OtherDatabase as other:
            return f"names another database ({one_line(str(other))})"
        except (_No, LexError) as why:
            reason = one_line(str(why))
            return f"cannot be read safely: {reason}" if isinstance(why, LexError) else reason
        # A caller running the statement on its own (the binlog replay) never skips: a USE would move
        # the session, and the statements after it, into another database (the source's, or one the
        # check did not know of), and what a loader skips (sql_log_bin, gtid_purged) would change the
        # server's replication bookkeeping.
        if verdict == "database":
            return "names a database, and a statement runs only in the database restored into"
        if verdict == "skip":
            return "sets replication bookkeeping, which a restore never runs"
        return None

    # --- the statement kinds ----------------------------------------------------------------------

    def tokens_of(self, sql: bytes) -> list[Token]:
        """`sql` as the server would read it now: the session's quote modes, client character set and
        the conditional comments it runs."""
        return tokens(
            sql,
            escapes=self.modes.backslash_escapes,
            ansi_quotes=self.modes.ansi_quotes,
            runs=self.runs,
            charset=self.client_charset,
            brackets=self.modes.brackets,
        )

    def _check(self, sql: bytes) -> Verdict:
        start = len(sql) - len(sql.lstrip())
        if _ROWS_START.match(sql, start):
            self._rows(sql, start)
            return "run"
        toks = self.tokens_of(sql)
        words = [t for t in toks if t.kind == "word"]
        if not toks:
            return "run"  # an empty conditional comment: nothing runs
        if toks[0].kind != "word":
            raise _No("is not a statement a dump contains")
        head = toks[0].word
        second = toks[1].text if len(toks) > 1 else b""
        if head == "SET":
            return self._set(toks)
        if head == "USE" or (
            head in ("CREATE", "DROP", "ALTER")
            and len(words) > 1
            and words[1].text in (b"DATABASE", b"SCHEMA")
        ):
            return self._database(toks)
        if head in ("LOCK", "UNLOCK"):
            self._locks(toks)
            return "run"
        if head in allowed.TRANSACTION_WORDS:
            if any(t.kind != "word" for t in toks) or (head == "START" and second != b"TRANSACTION"):
                raise _No(f"is not the {head} a dump writes")
            return "run"
        if head in ("CREATE", "ALTER", "DROP"):
            self._object(toks, head, sql)
            return "run"
        if self.binlog_ddl and (head == "TRUNCATE" or (head == "RENAME" and second == b"TABLE")):
            self._scan(toks, every_chain=True)
            return "run"
        if head == "EXECUTE" and second == b"IMMEDIATE" and len(toks) == 3 and toks[2].kind == "string":
            return self._prepared_object(toks[2].text)
        if head in ("SELECT", "DO") and second == b"SETVAL":
            self._setval(toks)
            return "run"
        if head == "CHANGE":  # mysqldump --source-data=1 (--master-data=1): the dumped server's position
            raise _No(
                "sets up replication (mysqldump --source-data=1 writes it; dump with --source-data=2, which "
                "writes it as a comment)"
            )
        raise _No(f"is {head} …, which a dump does not contain")

    def _prepared_object(self, literal: bytes) -> Verdict:
        """EXECUTE IMMEDIATE 'CREATE …': how our backups send a stored program holding comments (the
        stock client would strip them). The text is checked as the statement it is."""
        inner = _unescape(literal, self.modes.backslash_escapes)
        toks = tokens(
            inner,
            escapes=self.modes.backslash_escapes,
            ansi_quotes=self.modes.ansi_quotes,
            charset=self.client_charset,
            brackets=self.modes.brackets,
        )
        if not toks or toks[0].text != b"CREATE":
            raise _No("runs SQL built at run time other than a CREATE of a stored program")
        self._object(toks, "CREATE", inner)
        return "run"

    def _rows(self, sql: bytes, start: int) -> None:
        """A plain INSERT of literals, or _No. A restore checks every statement before loading and again
        as it sends it: a big one whose exact bytes (and quote modes) were accepted is known by its
        digest the second time, which costs a tenth of reading its values again.

        The check before loading reads a big one as the loader would instead, where it can: its
        literals' kinds, proven on every row (mysql/literals.py), spare the loader reading it while the
        server works. That reading's grammar is a strict part of this check's (test_literals.py holds it
        so), as long as backslashes escape: rows it proves are accepted as they are."""
        key, kinds = None, None
        if len(sql) >= REMEMBERED_ROWS_BYTES:
            key = self._remembered(sql, start)
            if key in self.accepted_rows:
                self.last_row_kinds = self.row_kinds.get(key)
                return
            if self.learn_row_kinds and self.modes.backslash_escapes:
                kinds = proven_kinds(sql)
        if kinds is None:
            self._read_rows(sql, start)
        if key is not None:
            self.accepted_rows.add(key)
            if kinds is not None:
                self.row_kinds[key] = kinds

    def knows(self, sql: memoryview) -> bool:
        """Whether `sql` is a big row statement accepted before (see `_rows`) under the quote modes
        now in force. Its values list, read whole, holds no `;` and no comment outside its strings:
        the splitter may take the `;` after it as its end without reading it (split_statements)."""
        if len(sql) < REMEMBERED_ROWS_BYTES or not self.accepted_rows:
            return False
        digest = hashlib.sha256(sql).digest()
        if self._key(digest, 0) not in self.accepted_rows:
            return False
        self._known = (bytes(sql), digest)
        return True

    def _remembered(self, sql: bytes | memoryview, start: int) -> bytes:
        """How a big row statement is remembered in accepted_rows: its digest and the quote modes."""
        known, self._known = self._known, None
        if known is not None and known[0] == sql:  # the very bytes `knows` hashed: same digest
            return self._key(known[1], start)
        return self._key(hashlib.sha256(sql).digest(), start)

    def _key(self, digest: bytes, start: int) -> bytes:
        modes = b"%d,%d,%d" % (self.modes.backslash_escapes, self.modes.ansi_quotes, start)
        return digest + modes

    def _read_rows(self, sql: bytes, start: int) -> None:
        head = _ROWS_HEAD.match(sql, start)
        if head is None:
            raise _No("is not a plain INSERT … VALUES into a table of the database restored")
        tail = sql[head.end() :]
        if self.modes.backslash_escapes:
            # Fast: one simple pattern reads the list (see _rows_pattern).
            escapes = b"\\" in tail
            if (_ESCAPED_VALUES if escapes else _PLAIN_VALUES).fullmatch(tail) is not None:
                return
            if b'"' not in tail:
                plain = tail.replace(b"\\\\", b"").replace(b"\\'", b"") if escapes else tail
                raise _No(
                    "holds values other than literals"
                    if plain.count(b"'") % 2 == 0
                    else "holds a string that is not closed"
                )
        values = _VALUES[(self.modes.backslash_escapes, self.modes.ansi_quotes)]
        if values.fullmatch(tail) is None:
            raise _No("holds values other than literals")

    def _set(self, toks: list[Token]) -> Verdict:
        if not (self.follow_sql_mode and self.runs is not None and any(t.hidden for t in toks)):
            return self._set_tokens(toks)
        # Accepted as written (whatever runs), then followed as the server runs it: a SET of sql_mode or
        # the character set in a comment the server skips must not change how this check reads on.
        self.follow_sql_mode = False
        try:
            verdict = self._set_tokens(toks)
        finally:
            self.follow_sql_mode = True
        ran = []
        for t in toks:
            runs = self.runs(t.hidden) if t.hidden else True
            if runs is None:
                raise _No(f"holds a conditional comment {t.hidden.decode()} the server would not read")
            if runs:
                ran.append(t)
        if ran and verdict != "skip":
            if ran[0].text != b"SET":
                raise _No("holds part of a SET in a conditional comment")
            self._set_tokens(ran)
        return verdict

    def _set_tokens(self, toks: list[Token]) -> Verdict:
        assignments = _split(toks[1:], b",")
        skipped = [_skipped_variable(a) for a in assignments]
        if all(skipped):
            # mysqldump's replication bookkeeping (@@SESSION.SQL_LOG_BIN, @@GLOBAL.GTID_PURGED): skipped
            for assignment in assignments:
                self._set_value(assignment[2:])
            return "skip"
        if any(skipped):
            raise _No("mixes replication settings with session settings")
        for assignment in assignments:
            if not assignment:
                raise _No("is an empty SET")
            self._assignment(assignment)
        self._scan(toks)
        return "run"

    def _assignment(self, a: list[Token]) -> None:
        first = a[0]
        if first.kind == "word" and first.text in (b"NAMES", b"CHARSET", b"CHARACTER"):
            if any(t.kind not in ("word", "string", "name") for t in a):
                raise _No("sets the character set to something other than a name")
            named = a[2:3] if first.text == b"CHARACTER" else a[1:2]
            self._set_client_charset(named)
            self._note_setting("character_set_client", named)
            if first.text == b"NAMES" and len(a) == 4 and a[2].text == b"COLLATE":
                self._note_setting("collation_connection", a[3:])
            return
        if first.kind == "var" and not first.text.startswith(b"@@"):
            name, rest = None, a[1:]
            target = first.text
        else:
            target = None
            if first.kind == "var":
                var = first.text[2:]
                for scope in (b"session.", b"local."):
                    var = var.removeprefix(scope)
                if b"." in var:
                    raise _No(f"sets {first.text.decode('utf-8', 'replace')}, which changes the whole server")
                name, rest = var.decode("utf-8", "replace"), a[1:]
            elif first.kind == "word" and first.text in (b"SESSION", b"LOCAL") and len(a) > 1:
                name, rest = a[1].text.decode("utf-8", "replace").lower(), a[2:]
            elif first.kind in ("word", "name"):
                name, rest = first.text.decode("utf-8", "replace").lower(), a[1:]
            else:
                raise _No("is not a SET of a session variable")
            word = first.text.decode("utf-8", "replace")
            if first.kind == "word" and word in allowed.FORBIDDEN_WORDS:
                raise _No(f"is SET {word}, which {allowed.FORBIDDEN_WORDS[word]}")
            if name not in allowed.SESSION_VARIABLES:
                raise _No(f"sets {name}, which is not one of the session variables a dump sets")
        if not rest or rest[0].kind != "op" or rest[0].text not in (b"=", b":="):
            raise _No("is not a SET of a session variable")
        value = rest[1:]
        self._set_value(value)
        if name is not None:
            self._note_setting(name, value)
        if name == "character_set_client":
            self._set_client_charset(value)
        if self.follow_sql_mode:
            self._follow(name, target, value)
            if target is not None:
                self._follow_charset_var(target, value)

    def _note_setting(self, name: str, value: list[Token]) -> None:
        """Note a named value of a setting a server may lack (see `settings`), as the server runs it."""
        v = value[0] if len(value) == 1 else None
        if self.settings is None or not self.follow_sql_mode or name not in PROBED_SETTINGS or v is None:
            return
        if v.kind not in ("word", "name", "string") or (v.kind == "word" and v.text in (b"DEFAULT", b"NULL")):
            return  # (a variable puts back what the session had: a value the server gave)
        text = _unescape(v.text, self.modes.backslash_escapes) if v.kind == "string" else v.raw or v.text
        key = (name, text.decode("utf-8", "replace"))
        if key not in self.settings:
            self.settings[key] = ""
            self._unnamed.append(key)

    def _name_settings(self, made: str) -> None:
        """The object a CREATE makes (`made`: `trigger tr`) is the first under the settings noted since
        the last one."""
        for key in self._unnamed:
            if self.settings is not None and self.settings.get(key) == "":
                self.settings[key] = made
        self._unnamed.clear()

    def _set_client_charset(self, value: list[Token]) -> None:
        """A SET of the client character set: refused for one where a backslash or backquote byte can
        be the second byte of a character (BACKSLASH_UNSAFE_CHARSETS): the server would then end a
        quoted text where this check (and the splitter) read on, and run what the check read as text.
        The pass before loading follows the value through the user variables that save it; one it
        cannot name is refused."""
        charset = self._charset_named(value)
        if charset is None and self.follow_sql_mode:
            raise _No("sets the client character set to a value known only when it runs")
        if charset is not None and charset in BACKSLASH_UNSAFE_CHARSETS:
            raise _No(
                f"sets the client character set to {charset}, where a backslash can end a character: "
                "the server would read its quoted text otherwise than this check"
            )
        if charset is not None:
            self.client_charset = charset

    def _charset_named(self, value: list[Token]) -> str | None:
        """The character set `value` names (lower case), or None when it cannot be told before it runs."""
        v = value[0] if len(value) == 1 else None
        if v is None:
            return None
        if v.kind in ("word", "name", "string") and v.text != b"DEFAULT":
            text = _unescape(v.text, self.modes.backslash_escapes) if v.kind == "string" else v.text
            return text.decode("utf-8", "replace").lower()
        if v.kind == "var" and v.text.startswith(b"@@"):
            same = v.text.removeprefix(b"@@").removeprefix(b"session.") == b"character_set_client"
            return self.client_charset if same else None
        if v.kind == "var":
            return self._charset_vars.get(v.text)
        return None

    def _follow_charset_var(self, target: bytes, value: list[Token]) -> None:
        charset = self._charset_named(value)
        if charset is None:
            self._charset_vars.pop(target, None)
        else:
            self._charset_vars[target] = charset

    def _set_value(self, value: list[Token]) -> None:
        for i, t in enumerate(value):
            following = value[i + 1] if i + 1 < len(value) else None
            called = following is not None and following.kind == "op" and following.text == b"("
            if t.kind == "word" and ((called and t.word not in allowed.SET_FUNCTIONS) or t.text == b"SELECT"):
                raise _No(f"sets a value computed by {t.word}, which a dump does not do")
            if t.kind == "var" and _server_wide(t.text):
                raise _No("reads a server-wide variable")

    def _database(self, toks: list[Token]) -> Verdict:
        """USE / CREATE / DROP / ALTER DATABASE: only of the database the dump was made of."""
        head = toks[0].text
        if head != b"USE" and any(t.kind == "op" and t.text != b"=" for t in toks):
            raise _No("is not a database statement as dumps write it")
        i = 1
        while i < len(toks) and toks[i].kind == "word" and toks[i].text in _DATABASE_WORDS:
            i += 1
        if i == len(toks) or (toks[i].kind == "word" and toks[i].text in _DATABASE_OPTIONS):
            if head == b"ALTER":
                if any(t.kind == "word" and t.text == b"READ" for t in toks[i:]):
                    # (MySQL's READ ONLY: the swap could not move the tables out, nor any restore drop it)
                    raise _No("makes the database read only, which a dump does not do")
                return "run"  # the current database (the staging one): a routine's own collation
            raise _No("names no database")
        t = toks[i]
        if t.kind not in ("name", "word"):
            raise _No("is not a database statement as dumps write it")
        if head == b"DROP" and b"EXISTS" not in {x.text for x in toks[:i]}:
            raise _No("drops a database, which a dump only writes as DROP DATABASE IF EXISTS of its own")
        name = (t.raw or t.text).decode("utf-8", "replace")
        if self.source is None:
            self.source = name
            self.databases = self.databases | {name.lower()}
        elif name != self.source:
            raise _OtherDatabase(name)
        return "database"

    def _locks(self, toks: list[Token]) -> None:
        if len(toks) < 2 or toks[1].text not in (b"TABLES", b"TABLE"):
            raise _No(f"is {toks[0].word} {toks[1].word if len(toks) > 1 else ''}".strip())
        if toks[0].text == b"UNLOCK" and len(toks) != 2:
            raise _No("is not a plain UNLOCK TABLES")
        self._scan(toks, every_chain=True)

    def _object(self, toks: list[Token], head: str, sql: bytes) -> None:
        """CREATE / ALTER / DROP of a table, view, routine, trigger, event, sequence or index."""
        kind = None
        i = 1
        while i < len(toks):
            t = toks[i]
            if t.kind == "word" and t.word in allowed.OBJECT_KINDS:
                kind = t.word
                break
            if t.kind == "word" and t.text == b"DEFINER" and i + 1 < len(toks) and toks[i + 1].text == b"=":
                if self.definers is not None:
                    self._definer(t, sql)
                i = _after_user(toks, i + 2)
                continue
            if t.kind == "word" and t.word in allowed.OBJECT_PREFIX_WORDS:
                i += 1
                continue
            if t.kind in ("name", "string", "var") or (t.kind == "op" and t.text in (b"=", b"@", b"(", b")")):
                i += 1  # DEFINER = user@host, ALGORITHM = …
                continue
            break
        if kind is None:
            what = " ".join(t.text.decode("utf-8", "replace") for t in toks[: i + 1] if t.kind == "word")
            raise _No(f"is {what}, which a dump does not contain")
        made = made_by(kind, toks[i + 1 :]) if head == "CREATE" else None
        if head == "CREATE" and self._unnamed:
            self._name_settings(f"{made.kind} {made.name}" if made else object_name(sql))
        if made is not None and self.made is not None:
            self.made.append(made)
        if head == "CREATE" and kind == "EVENT":
            self.created_event = True
        if head == "CREATE" and kind == "TABLE":
            self._create_table(toks[i + 1 :])
            toks = _without_own_file_tablespace(toks)
        if head in ("CREATE", "ALTER") and kind == "TABLE":
            _refuse_foreign_engine(toks[i + 1 :])
        if head in ("CREATE", "ALTER") and kind in ("FUNCTION", "PROCEDURE"):
            _refuse_foreign_language(toks[i + 1 :])
        self._scan(toks, every_chain=head in ("DROP",))

    def _definer(self, clause: Token, sql: bytes) -> None:
        """Note the account a DEFINER clause names (see `definers`). mysqldump writes a trigger's and an
        event's as `/*!50017 DEFINER=…*/`: it counts where the server runs that comment."""
        if clause.hidden and not (self.runs is not None and self.runs(clause.hidden)):
            return
        account = definer_of(sql)
        if account is not None and self.definers is not None:
            self.definers[object_name(sql)] = account

    def _create_table(self, rest: list[Token]) -> None:
        if self.created_tables is not None and (name := _created_name(rest)) is not None:
            self.created_tables.append(name)
        for t in rest:
            if t.kind == "word" and t.text == b"SELECT" and not self.binlog_ddl:
                raise _No("creates a table from a query, which a dump does not do")

    def _setval(self, toks: list[Token]) -> None:
        """SELECT SETVAL(`seq`, n, …): mariadb-dump's way to restore a sequence's next value."""
        if (
            len(toks) < 5
            or toks[2].text != b"("
            or toks[3].kind not in ("name", "word")
            or toks[-1].text != b")"
        ):
            raise _No("is not the SETVAL of a sequence a dump writes")
        for t in toks[4:-1]:
            if not (
                t.kind in ("number",)
                or (t.kind == "op" and t.text in (b",", b"-"))
                or t.text in (b"TRUE", b"FALSE")
            ):
                raise _No("is not the SETVAL of a sequence a dump writes")

    # --- what any statement must not do -----------------------------------------------------------

    def _scan(self, toks: list[Token], *, every_chain: bool = False) -> None:
        """Forbidden words and database-qualified names, in the statement as read with its conditional
        comments and without them (a server older than a comment's version skips it)."""
        self._scan_one(toks, every_chain)
        if any(t.hidden for t in toks):
            self._scan_one([t for t in toks if not t.hidden], every_chain)

    def _scan_one(self, toks: list[Token], every_chain: bool) -> None:
        n = len(toks)
        for i, t in enumerate(toks):
            prev = toks[i - 1] if i else None
            after_dot = prev is not None and prev.kind == "op" and prev.text == b"."
            if t.kind == "var" and _server_wide(t.text):
                raise _No("uses a server-wide variable")
            if _sets_replication_variable(toks, i):
                raise _No(f"sets {t.text.decode('utf-8', 'replace')}, which changes what replication sees")
            if t.kind in ("word", "name") and not after_dot and _calls_server_function(toks, i):
                raise _No(f"calls {t.text.decode('utf-8', 'replace').lower()}(), which changes the server")
            if t.kind != "word" or after_dot:
                if t.kind in ("word", "name") and not after_dot:
                    self._chain(toks, i, every_chain)
                continue
            word = t.text.decode("utf-8", "replace")
            nxt = toks[i + 1] if i + 1 < n else None
            if nxt is not None and nxt.kind == "op" and nxt.text == b".":
                self._chain(toks, i, every_chain)
                continue
            if word in allowed.FORBIDDEN_WORDS:
                raise _No(f"uses {word}, which {allowed.FORBIDDEN_WORDS[word]}")
            if word == "HANDLER" and (
                prev is None or prev.text.decode("utf-8", "replace") not in allowed.HANDLER_PREFIXES
            ):
                raise _No("uses HANDLER, which reads tables outside SQL")
            following = nxt.text.decode("utf-8", "replace") if nxt is not None and nxt.kind == "word" else ""
            if word in ("CREATE", "ALTER", "DROP", "RENAME") and following in allowed.SERVER_OBJECTS:
                raise _No(f"uses {word} {following}, which changes more than the database restored")
            if word == "SET" and following in (
                "PASSWORD",
                "ROLE",
                "DEFAULT",
                "RESOURCE",
                "TRANSACTION",
                "STATEMENT",
            ):
                raise _No(f"uses SET {following}, which a dump does not do")
            if word == "IMPORT" and following == "TABLE":  # (MySQL's: tables of any database, from files)
                raise _No("uses IMPORT TABLE, which creates tables from files on the server")
            if word == "RESTART" and not _in_alter_sequence(toks, i):  # (MySQL's RESTART statement)
                raise _No("uses RESTART, which restarts the server")
            if word == "LOCK" and following == "INSTANCE":  # (MySQL's: holds DDL back on the whole server)
                raise _No("uses LOCK INSTANCE, which locks the whole server")
            if word == "SPATIAL" and following == "REFERENCE":  # (MySQL's, in a routine or event body)
                raise _No("uses SPATIAL REFERENCE SYSTEM, which changes more than the database restored")
            if word == "SHOW" and following not in allowed.SHOW_OF_THE_SESSION:
                raise _No(f"uses SHOW {following}, which reads beyond the database restored")
            if word in ("START", "STOP") and following in ("SLAVE", "REPLICA", "GROUP_REPLICATION", "ALL"):
                raise _No(f"uses {word} {following}, which changes replication")

    def _chain(self, toks: list[Token], i: int, every_chain: bool) -> None:
        """A name at toks[i]: refuse it when it is qualified with a database."""
        parts = [toks[i]]
        j = i + 1
        while (
            j + 1 < len(toks)
            and toks[j].kind == "op"
            and toks[j].text == b"."
            and (toks[j + 1].kind in ("word", "name", "number") or toks[j + 1].text == b"*")
        ):
            parts.append(toks[j + 1])
            j += 2
        if len(parts) < 2:
            return
        shown = ".".join((p.raw or p.text).decode("utf-8", "replace") for p in parts)
        prev = toks[i - 1] if i else None
        before = toks[i - 2] if i > 1 else None
        nxt = toks[j] if j < len(toks) else None
        qualifier = parts[0].text.decode("utf-8", "replace").lower()
        if len(parts) == 2 and self.own_database is not None and qualifier == self.own_database.lower():
            return  # the database restored into: as if unqualified
        qualified = (
            every_chain
            or len(parts) > 2
            or qualifier in self.databases
            or (prev is not None and prev.kind == "word" and prev.word in _POSITIONS)
            or (
                prev is not None
                and prev.text == b"ON"
                and before is not None
                and before.text in _TRIGGER_EVENTS
            )
            or (
                prev is not None
                and prev.text == b"("
                and before is not None
                and before.text.decode("utf-8", "replace") in allowed.SEQUENCE_FUNCTIONS
            )
            or (nxt is not None and nxt.kind == "op" and nxt.text == b"(")
            or (prev is not None and prev.kind == "op" and prev.text == b"," and _in_table_list(toks, i - 1))
            or (prev is not None and prev.kind == "op" and prev.text == b"(" and _opens_tables(toks, i - 1))
            or _in_merge_union(toks, i)
        )
        if qualified:
            raise _No(f"names {shown}, qualified with a database; a restore only changes its target")

    # --- following sql_mode, for the pass before loading -------------------------------------------

    def _follow(self, name: str | None, target: bytes | None, value: list[Token]) -> None:
        """Track sql_mode through SETs (and the user variables that save it), so the pass before
        loading reads quotes as the server will. A sql_mode it cannot follow is refused: statements
        after it could read otherwise on the server than here."""
        text: str | None = None
        v = value[0] if len(value) == 1 else None
        if v is not None and v.kind == "string":
            text = _unescape(v.text, self.modes.backslash_escapes).decode("utf-8", "replace")
        elif v is not None and v.kind == "var" and v.text.startswith(b"@@"):
            same = v.text.removeprefix(b"@@").removeprefix(b"session.") == b"sql_mode"
            text = self.sql_mode if same else None
        elif v is not None and v.kind == "var":
            text = self._user_vars.get(v.text)
        if target is not None:
            if text is None:
                self._user_vars.pop(target, None)
            else:
                self._user_vars[target] = text
        elif name == "sql_mode":
            if text is None:
                raise _No("sets sql_mode to a value known only when it runs, which a dump does not do")
            self._apply_sql_mode(text)

    def _apply_sql_mode(self, mode: str) -> None:
        self.sql_mode = mode
        self.modes.follow(mode)


# Session settings whose named values a server may lack: SET fails there ("Unknown collation", "Unknown or
# incorrect time zone").
PROBED_SETTINGS = frozenset(
    {"character_set_client", "character_set_results", "character_set_connection", "collation_connection"}
    | {"time_zone"}
)
_DATABASE_WORDS = {b"USE", b"CREATE", b"DROP", b"ALTER", b"DATABASE", b"SCHEMA", b"IF", b"NOT", b"EXISTS"}
_DATABASE_OPTIONS = {b"DEFAULT", b"CHARACTER", b"CHARSET", b"COLLATE", b"COMMENT", b"READ", b"ENCRYPTION"}
# (INSERT/REPLACE without INTO, their and UPDATE's/DELETE's options, ALTER TABLE … RENAME [AS]: a table,
# never a column, follows)
_POSITIONS = allowed.NAME_POSITIONS | {
    *("FOLLOWS", "PRECEDES", "INSERT", "REPLACE", "RENAME", "AS"),
    *("IGNORE", "LOW_PRIORITY", "HIGH_PRIORITY", "DELAYED", "QUICK"),
}
_TRIGGER_EVENTS = {b"INSERT", b"UPDATE", b"DELETE"}
# Words after which a name and `(` are an object and its columns or parameters, never a call.
_NAMED_BEFORE_PARENTHESES = _POSITIONS | {
    *("KEY", "INDEX", "UNIQUE", "FULLTEXT", "SPATIAL", "CONSTRAINT", "PARTITION", "SUBPARTITION"),
    *("ON", "WITH"),
}
# A comma after these (at the same depth, past join conditions) separates tables; after the clause words,
# columns or values. (`FROM t, db.t`, `UPDATE t, db.t SET`, `DELETE x FROM t x, db.t y`, `DROP TABLE t, db.t`)
_TABLE_LISTS = {b"FROM", b"UPDATE", b"JOIN", b"STRAIGHT_JOIN", b"TABLE", b"TABLES", b"USING"}
_CLAUSES = {
    *(b"SELECT", b"WHERE", b"SET", b"GROUP", b"ORDER", b"BY", b"HAVING", b"LIMIT", b"VALUES", b"VALUE"),
    *(b"INTO", b"RETURN", b"RETURNS", b"DECLARE", b"THEN", b"ELSE", b"WHEN", b"DO", b"BEGIN", b"END"),
    *(b"UNION", b"WINDOW", b"PARTITION", b"WITH", b"CALL", b"IF", b"WHILE", b"REPEAT", b"UNTIL"),
}


def _created_name(rest: list[Token]) -> str | None:
    """The table a CREATE TABLE names (after `CREATE … TABLE`), without a database's qualifier."""
    i = 0
    while i < len(rest) and rest[i].kind == "word" and rest[i].text in (b"IF", b"NOT", b"EXISTS"):
        i += 1
    if i + 2 < len(rest) and rest[i + 1].kind == "op" and rest[i + 1].text == b".":
        i += 2  # `db`.`table`: the check refuses any database but the source's
    if i >= len(rest) or rest[i].kind not in ("name", "word"):
        return None
    t = rest[i]
    return (t.text if t.kind == "name" else t.raw or t.text).decode("utf-8", "replace")


def _in_table_list(toks: list[Token], comma: int) -> bool:
    """Whether the comma at toks[comma] separates tables: reading back at its depth, a word opening a
    table list comes before any clause word, the start of the statement, or a `(` that opens no tables
    (`FROM (t, db.t)` and `JOIN (t, db.t)` list tables too)."""
    depth = 0
    for k in range(comma - 1, -1, -1):
        t = toks[k]
        if t.kind == "op" and t.text == b")":
            depth += 1
        elif t.kind == "op" and t.text == b"(":
            if depth == 0:
                return _opens_tables(toks, k)
            depth -= 1
        elif depth == 0 and t.kind == "op" and t.text == b";":
            return False
        elif depth == 0 and t.kind == "word" and t.text in _TABLE_LISTS:
            return True
        elif depth == 0 and t.kind == "word" and t.text in _CLAUSES:
            return False
    return False


def _opens_tables(toks: list[Token], paren: int) -> bool:
    """Whether the `(` at toks[paren] opens table references (`FROM (db.t)`, `UPDATE (t, db.t) SET`,
    `JOIN ((db.t))`, `FROM t, (db.t)`): before it, and any `(` right before it, stands a word a table
    list starts with, or a comma that separates tables."""
    j = paren
    while j >= 0 and toks[j].kind == "op" and toks[j].text == b"(":
        j -= 1
    if j < 0:
        return False
    t = toks[j]
    if t.kind == "word":
        return t.text in _TABLE_LISTS
    return t.kind == "op" and t.text == b"," and _in_table_list(toks, j)


def _refuse_foreign_engine(rest: list[Token]) -> None:
    """A table's ENGINE [=] name, as a word, a quoted name or a string: refused for an engine that
    reaches outside the database. A conditional comment after ENGINE may hold the name for some
    servers only (`ENGINE=/*!99999 InnoDB */ CONNECT`): every name up to the first one all servers read
    is taken as the engine."""
    for j, t in enumerate(rest):
        if t.kind != "word" or t.text != b"ENGINE":
            continue
        for after in rest[j + 1 :]:
            if after.kind == "op" and after.text == b"=":
                continue
            if after.text.upper().decode("utf-8", "replace") in allowed.FOREIGN_ENGINES:
                raise _No(f"uses the {after.word.upper()} engine, which reaches outside the database")
            if not after.hidden:
                break


# What follows a routine's `LANGUAGE name`: its other characteristics, or `AS` before the body.
_AFTER_LANGUAGE = {
    *(b"AS", b"USING", b"DETERMINISTIC", b"NOT", b"COMMENT", b"SQL", b"NO", b"CONTAINS", b"READS"),
    *(b"MODIFIES", b"LANGUAGE"),
}


def _refuse_foreign_language(rest: list[Token]) -> None:
    """A routine in a language other than SQL (MySQL 9's `LANGUAGE JAVASCRIPT AS $$ … $$`): its code,
    which can run SQL of its own built at run time, is not SQL this check reads (its strings hide it).
    As for a library of such code (mysql/libraries.py), a restore refuses it."""
    for j, t in enumerate(rest[:-2]):
        language, after = rest[j + 1], rest[j + 2]
        if (
            t.kind == "word"
            and t.text == b"LANGUAGE"
            and language.kind == "word"
            and language.text != b"SQL"
            and after.kind == "word"
            and after.text in _AFTER_LANGUAGE
        ):
            raise _No(f"is a routine in {language.word}, whose code this check cannot read")


def _in_merge_union(toks: list[Token], i: int) -> bool:
    """Whether the name at toks[i] is in a MERGE table's `UNION [=] (t1, t2, …)`: tables, which the
    restored table reads and inserts into, whichever database holds them then."""
    j = i - 1
    while j > 0 and toks[j].kind == "op" and toks[j].text == b",":  # back over `name[.name],` before it
        j -= 1
        if j > 1 and toks[j - 1].kind == "op" and toks[j - 1].text == b".":
            j -= 2
        if toks[j].kind not in ("word", "name"):
            return False
        j -= 1
    if j < 1 or toks[j].kind != "op" or toks[j].text != b"(":
        return False
    before = toks[j - 1]
    if before.kind == "op" and before.text == b"=" and j > 1:
        before = toks[j - 2]
    return before.kind == "word" and before.text == b"UNION"


_ESCAPES = {b"0": b"\0", b"b": b"\b", b"n": b"\n", b"r": b"\r", b"t": b"\t", b"Z": b"\x1a"}
_ESCAPE = re.compile(rb"\\([\s\S])|''")
_PLAIN_ESCAPE = re.compile(rb"''")


def _unescape(literal: bytes, escapes: bool) -> bytes:
    """A string token's text as the server reads it: '' is ', and backslash escapes when they are on."""

    def one(m: re.Match[bytes]) -> bytes:
        c = m.group(1) if escapes else None
        if c is None:
            return b"'"
        return b"\\" + c if c in (b"%", b"_") else _ESCAPES.get(c, c)

    return (_ESCAPE if escapes else _PLAIN_ESCAPE).sub(one, literal)


# Words a statement of a routine, trigger or event body follows (besides `;`).
_BODY_STATEMENT_STARTS = {b"BEGIN", b"THEN", b"ELSE", b"DO", b"REPEAT", b"LOOP"}


def _in_alter_sequence(toks: list[Token], i: int) -> bool:
    """Whether toks[i] is part of an ALTER SEQUENCE (MariaDB's `… RESTART [WITH n]`): reading back, it
    comes before the start of the statement it is in."""
    for j in range(i - 1, 0, -1):
        t = toks[j]
        if t.kind == "word" and t.text == b"SEQUENCE" and toks[j - 1].text == b"ALTER":
            return True
        if (t.kind == "op" and t.text == b";") or (t.kind == "word" and t.text in _BODY_STATEMENT_STARTS):
            return False
    return False


def _calls_server_function(toks: list[Token], i: int) -> bool:
    """Whether toks[i], a word or quoted name, is a call of a function that changes the server
    (allowed.SERVER_FUNCTION_PREFIXES): before `(`, and not a name of the database's own that a column
    list or a parameter list follows (`CREATE TABLE innodb_stats (…`, `KEY innodb_i (…`)."""
    nxt = toks[i + 1] if i + 1 < len(toks) else None
    if nxt is None or nxt.kind != "op" or nxt.text != b"(":
        return False
    prev = toks[i - 1] if i else None
    if prev is not None and prev.kind == "word" and prev.word in _NAMED_BEFORE_PARENTHESES:
        return False
    return toks[i].text.decode("utf-8", "replace").lower().startswith(allowed.SERVER_FUNCTION_PREFIXES)


def _server_wide(var: bytes) -> bool:
    """A variable token naming the whole server's value: `@@global.x`, `@@persist…`, and `@@global`
    alone, which the server joins to a `.x` after a space or comment (`@@global . x`)."""
    return var == b"@@global" or var.startswith((b"@@global.", b"@@persist"))


def _sets_replication_variable(toks: list[Token], i: int) -> bool:
    """Whether toks[i] is the name a SET assigns (after SET, SESSION, LOCAL or a comma, before = or :=)
    and names one of allowed.REPLICATION_SESSION_VARIABLES (in the session's scope: a global one is
    refused as server-wide). Reading one (`SET @saved = @@SESSION.SQL_LOG_BIN`, as mysqldump does) is not."""
    t = toks[i]
    nxt = toks[i + 1] if i + 1 < len(toks) else None
    prev = toks[i - 1] if i else None
    if nxt is None or prev is None or nxt.text not in (b"=", b":=") or t.kind not in ("var", "word"):
        return False
    if not (prev.text in (b"SET", b"SESSION", b"LOCAL") or (prev.kind == "op" and prev.text == b",")):
        return False
    if t.kind == "word":
        name = t.text.decode("utf-8", "replace").lower()
        scoped = prev.text in (b"SESSION", b"LOCAL")
        names = (
            allowed.REPLICATION_SESSION_VARIABLES_SCOPED if scoped else allowed.REPLICATION_SESSION_VARIABLES
        )
        return name in names
    scope, _, name = t.text.decode("utf-8", "replace").lower().removeprefix("@@").rpartition(".")
    return scope in ("", "session", "local") and name in allowed.REPLICATION_SESSION_VARIABLES_SCOPED


def _skipped_variable(assignment: list[Token]) -> bool:
    """`@@[SESSION.|GLOBAL.]name = …` for a name the restore skips (allowed.SKIPPED_VARIABLES)."""
    if len(assignment) < 3 or assignment[0].kind != "var" or assignment[1].text != b"=":
        return False
    name = assignment[0].text.removeprefix(b"@@")
    scope, _, bare = name.rpartition(b".")
    allowed_scopes = allowed.SKIPPED_VARIABLES.get(bare.decode("utf-8", "replace"), ())
    return scope.decode("utf-8", "replace") in allowed_scopes


def _after_user(toks: list[Token], i: int) -> int:
    """Past `user@host` (or CURRENT_USER[()]) starting at toks[i]."""
    if i < len(toks) and toks[i].kind in ("name", "word", "string"):
        i += 1
    if i < len(toks) and toks[i].kind == "var":
        i += 1  # @host, lexed as a variable
    elif i + 1 < len(toks) and toks[i].text == b"(" and toks[i + 1].text == b")":
        i += 2
    return i


def _without_own_file_tablespace(toks: list[Token]) -> list[Token]:
    """A CREATE TABLE's tokens without `TABLESPACE [=] innodb_file_per_table` (of the table or a
    partition): the table's own file, as without the clause, which MySQL's SHOW CREATE TABLE writes of a
    table created with it or moved back out of a general tablespace. Any other TABLESPACE stays, and is
    refused: a general tablespace is the server's, outside the database restored."""
    out: list[Token] = []
    i = 0
    while i < len(toks):
        if toks[i].kind == "word" and toks[i].text == b"TABLESPACE":
            j = i + 1
            if j < len(toks) and toks[j].kind == "op" and toks[j].text == b"=":
                j += 1
            name = toks[j] if j < len(toks) else None
            if name is not None and name.kind in ("word", "name") and name.text.lower() == OWN_FILE:
                i = j + 1
                continue
        out.append(toks[i])
        i += 1
    return out


# The tablespace that is the table's own .ibd file (MySQL; MariaDB ignores the clause).
OWN_FILE = b"innodb_file_per_table"


def _split(toks: list[Token], separator: bytes) -> list[list[Token]]:
    """Split at `separator` outside parentheses."""
    parts: list[list[Token]] = [[]]
    depth = 0
    for t in toks:
        if t.kind == "op" and t.text == b"(":
            depth += 1
        elif t.kind == "op" and t.text == b")":
            depth -= 1
        elif depth == 0 and t.kind == "op" and t.text == separator:
            parts.append([])
            continue
        parts[-1].append(t)
    return parts


def refusal(sql: bytes, source: str, databases: Iterable[str], sql_mode: str) -> str | None:
    """Why a restore would refuse `sql`, one statement of a dump of `source` loaded under `sql_mode`,
    or None. `databases` are the names a qualifier must not use (the source server's, at backup)."""
    confinement = Confinement(
        where="", source=source, databases=frozenset(databases), follow_sql_mode=True, sql_mode=sql_mode
    )
    try:
        confinement._check(sql)
    except (_No, LexError) as why:
        return one_line(str(why))
    return None
