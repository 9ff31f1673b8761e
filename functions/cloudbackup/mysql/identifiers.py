"""Identifiers and session-setting literals as they appear in dump text."""

from __future__ import annotations

import re

from cloudbackup.errors import OperationError

# Values the server reports for sql_mode, charsets, collations and time zones. They are written into the
# dump unescaped, so anything outside these characters is refused rather than quoted.
_SETTING_VALUE = re.compile(r"[A-Za-z0-9_,+\-:/. ]*")


MAX_NAME_CHARACTERS = 64  # both servers' limit on a database name


def database_name_problem(name: str) -> str | None:
    """Why a restore cannot make a database named `name`, or None. Both servers take any character of
    Unicode's Basic Multilingual Plane but NUL, up to 64 of them, and no trailing space. A character
    past that plane MariaDB refuses, and MySQL takes but then cannot compare in information_schema,
    whose name columns are utf8mb3."""
    if not name:
        return "is empty"
    if len(name) > MAX_NAME_CHARACTERS:
        return f"is {len(name)} characters long, and the server allows {MAX_NAME_CHARACTERS}"
    if name.endswith(" "):
        return "ends with a space, which the server does not allow"
    if "\0" in name:
        return "holds a NUL character"
    if any(0xD800 <= ord(c) <= 0xDFFF for c in name):
        return "holds bytes that are not UTF-8"
    if any(ord(c) > 0xFFFF for c in name):
        return (
            "holds a character outside Unicode's Basic Multilingual Plane (an emoji?), "
            "which the servers' catalogs (utf8mb3) cannot name"
        )
    return None


def quote_identifier(name: str) -> str:
    """`name` with backticks doubled: valid under every sql_mode, ANSI_QUOTES included."""
    return "`" + name.replace("`", "``") + "`"


def setting_literal(value: str) -> str:
    """A session value (sql_mode, time zone) as a quoted literal, the same under NO_BACKSLASH_ESCAPES."""
    if not _SETTING_VALUE.fullmatch(value):
        raise OperationError(f"unexpected session setting value from the server: {value!r}")
    return f"'{value}'"


def setting_name(value: str) -> str:
    """A character set or collation name, written bare (SET character_set_client = latin1)."""
    if not re.fullmatch(r"[A-Za-z0-9_]+", value):
        raise OperationError(f"unexpected character set or collation name from the server: {value!r}")
    return value


def unqualify_sequence_calls(create: bytes, database: str) -> bytes:
    """`nextval(`db`.`seq`)` -> `nextval(`seq`)`, so a table default or a view reloads under another name.

    SHOW CREATE TABLE/VIEW qualify sequences of their own database; other databases' stay qualified.
    """
    qualified = re.escape(quote_identifier(database).encode() + b".")
    return re.sub(rb"(?i)\b(nextval|lastval)\(" + qualified, rb"\1(", create)


_TRIGGER_HEAD_END = re.compile(rb"(?i)\bFOR\s+EACH\s+ROW\b")


def unqualify_trigger(create: bytes, database: str) -> bytes:
    """`CREATE TRIGGER `db`.tr … ON db.t` -> `CREATE TRIGGER tr … ON t`, for `db` the dumped database.

    The server keeps a trigger's statement as it was written: a qualified name would put the trigger
    back into the source database (or fail, "already exists"), whatever the restore's target.
    """
    end = _TRIGGER_HEAD_END.search(create)
    head, body = (create[: end.start()], create[end.start() :]) if end else (create, b"")
    quoted = re.escape(quote_identifier(database).encode())
    bare = re.escape(database.encode())
    qualifier = rb"(?:" + quoted + rb"|(?i:" + bare + rb"))\s*\.\s*"
    head = re.sub(rb"(?i)(\bTRIGGER\s+|\bON\s+)" + qualifier, rb"\1", head)
    return head + body
