"""What a logged statement (a Query event) means for the replay of one database.

Row events carry the data; Query events carry DDL, transaction control, and statements about the
server rather than the database (accounts, plugins, maintenance), which a restore must never run.
A statement that creates, alters or drops a database touches no table of the target: it is skipped,
except DROP DATABASE of the database being restored, which no replay can go past.
"""

from __future__ import annotations

import re
from typing import Literal

StatementKind = Literal["run", "skip", "drops-source"]

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
    database = _DATABASE_STATEMENT.match(body)
    if database is None:
        return "run"
    name = database.group(2) or b""
    if not name or name.upper() in _DATABASE_OPTIONS:
        named = default_database
    else:
        named = name.decode("utf-8", "surrogateescape")
        if named.startswith("`"):
            named = named[1:-1].replace("``", "`")
    if database.group(1).upper() == b"DROP" and named == source:
        return "drops-source"
    return "skip"
