"""What a logged statement (a Query event) means for the replay of one database.

Row events carry the data; Query events carry DDL, transaction control, and statements about the
server rather than the database (accounts, plugins, maintenance), which a restore must never run.
A statement that creates, alters or drops a database touches no table of the target: it is skipped,
except DROP DATABASE of the database being restored, which no replay can go past. So is a CREATE
TABLE or VIEW of another database (`CREATE TABLE other.t_copy LIKE shop.t`, a table set aside): it
may read the database, but changes only the other one. CREATE, ALTER and DROP EVENT are "event":
an event made in staging would fire there while the replay runs, so the replay holds them back.
ALTER DATABASE of the database being restored that sets only its character set and collation is
run on the target (source_defaults_change): the tables made after it take those defaults.
"""

from __future__ import annotations

import re
from typing import Literal

StatementKind = Literal["run", "skip", "drops-source", "event"]

_LEADING_COMMENTS = re.compile(rb"^\s*(?:/\*(?!!).*?\*/\s*)*", re.S)
# Statements about the server or its accounts, and ones that change no data: never run in a restore.
_SERVER_STATEMENT = re.compile(
    rb"(?:SAVEPOINT|ROLLBACK\s+TO|RELEASE\s+SAVEPOINT|XA\s|GRANT|REVOKE"
    rb"|(?:CREATE|DROP|ALTER|RENAME)\s+(?:USER|ROLE|SERVER|TABLESPACE|LOGFILE|RESOURCE\s+GROUP)\b"
    rb"|SET\s+(?:PASSWORD|DEFAULT\s+ROLE)|FLUSH|INSTALL|UNINSTALL|ANALYZE|OPTIMIZE|REPAIR|CHECK)\b",
    re.I,
)
_DATABASE_STATEMENT = re.compile(
    rb"(CREATE|DROP|ALTER)\s+(?:DATABASE|SCHEMA)\b(?:\s+IF\s+(?:NOT\s+)?EXISTS)?\s*(`(?:[^`]|``)+`|[\w$]+)?",
    re.I,
)
_NAME = rb"(`(?:[^`]|``)+`|[\w$\x80-\xff]+)"
# CREATE TABLE / VIEW and the name it creates (`db`.name or name), past the clauses a view may have.
_CREATE_TABLE_OR_VIEW = re.compile(
    rb"CREATE\s+(?:OR\s+REPLACE\s+)?(?:(?:ALGORITHM\s*=\s*\w+|DEFINER\s*=\s*\S+|SQL\s+SECURITY\s+\w+)\s+)*"
    rb"(?:TEMPORARY\s+)?(?:TABLE|VIEW)\s+(?:IF\s+NOT\s+EXISTS\s+)?"
    + _NAME
    + rb"(?:\s*\.\s*"
    + _NAME
    + rb")?",
    re.I,
)
# CREATE/ALTER/DROP EVENT and the event's name (`db`.name or name)
_EVENT_STATEMENT = re.compile(
    rb"(CREATE|ALTER|DROP)\s+(?:DEFINER\s*=\s*\S+\s+)?EVENT\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?"
    + _NAME
    + rb"(?:\s*\.\s*"
    + _NAME
    + rb")?",
    re.I,
)
# ALTER DATABASE without a name changes the session's default database.
_DATABASE_OPTIONS = {
    b"CHARACTER",
    b"CHARSET",
    b"DEFAULT",
    b"COLLATE",
    b"READ",
    b"ENCRYPTION",
    b"COMMENT",
    b"UPGRADE",
}


def statement_kind(text: bytes, default_database: str, source: str) -> StatementKind:
    body = _LEADING_COMMENTS.sub(b"", text, count=1)
    if _SERVER_STATEMENT.match(body):
        return "skip"
    if _creates_in_another_database(body, default_database, source):
        return "skip"
    if _EVENT_STATEMENT.match(body):
        return "event"
    database = _DATABASE_STATEMENT.match(body)
    if database is None:
        return "run"
    name = database.group(2) or b""
    named = default_database if not name or name.upper() in _DATABASE_OPTIONS else _unquoted(name)
    if database.group(1).upper() == b"DROP" and named == source:
        return "drops-source"
    return "skip"


# Only a character set and a collation, each maybe DEFAULT and `=`: what a CREATE TABLE after it takes.
_CHARSET_OPTIONS = re.compile(
    rb"(?:\s*(?:DEFAULT\s+)?(?:CHARACTER\s+SET|CHARSET|COLLATE)\s*=?\s*(?:'[^']*'|`[^`]*`|[\w$]+))+\s*", re.I
)


def source_defaults_change(text: bytes, default_database: str, source: str) -> bytes | None:
    """`ALTER DATABASE <options>` (no name: the session's database) for an ALTER DATABASE of `source`
    that changes only its default character set and collation; None for any other statement."""
    body = _LEADING_COMMENTS.sub(b"", text, count=1)
    database = _DATABASE_STATEMENT.match(body)
    if database is None or database.group(1).upper() != b"ALTER":
        return None
    name = database.group(2) or b""
    if not name or name.upper() in _DATABASE_OPTIONS:
        named, options = default_database, body[database.start(2) if name else database.end() :]
    else:
        named, options = _unquoted(name), body[database.end() :]
    if named != source or not _CHARSET_OPTIONS.fullmatch(options):
        return None
    return b"ALTER DATABASE " + options.strip()


def event_change(text: bytes) -> tuple[str, str] | None:
    """("CREATE"|"ALTER"|"DROP", the event's name in lower case) of an event statement, else None."""
    found = _EVENT_STATEMENT.match(_LEADING_COMMENTS.sub(b"", text, count=1))
    if found is None:
        return None
    return found.group(1).decode().upper(), _unquoted(found.group(3) or found.group(2)).lower()


def _creates_in_another_database(body: bytes, default_database: str, source: str) -> bool:
    created = _CREATE_TABLE_OR_VIEW.match(body)
    if created is None:
        return False
    database = _unquoted(created.group(1)) if created.group(2) else default_database
    return bool(database) and database != source


def _unquoted(name: bytes) -> str:
    text = name.decode("utf-8", "surrogateescape")
    return text[1:-1].replace("``", "`") if text.startswith("`") else text
