"""Dump text that sets the session an object needs, creates it, and puts the session back.

Each object is written with the sql_mode, client character set, connection collation (and time zone)
it was created with, so it reloads alike on any server session: the stock `mysql` client's, ours, or
an operator's with other defaults. The previous values are kept in user variables and restored.
"""

from __future__ import annotations

from collections.abc import Mapping

from cloudbackup.mysql.identifiers import setting_literal, setting_name

# Variables whose values are quoted literals; the rest are bare names or numbers.
_QUOTED = {"sql_mode", "time_zone"}
STORED_PROGRAM_DELIMITER = b";;"
# Multi-byte character sets whose second byte can be 0x5C or 0x27: escaping byte by byte would break them.
BACKSLASH_UNSAFE_CHARSETS = {"big5", "cp932", "gbk", "gb18030", "sjis"}


def _value(variable: str, value: str) -> str:
    if variable in _QUOTED:
        return setting_literal(value)
    return setting_name(value)


def with_session(settings: Mapping[str, str], body: bytes) -> bytes:
    """`body` under `settings`, then the caller's session again."""
    names = list(settings)
    save = ", ".join(f"@cb_saved_{n} = @@{n}" for n in names)
    apply = ", ".join(f"{n} = {_value(n, settings[n])}" for n in names)
    restore = ", ".join(f"{n} = @cb_saved_{n}" for n in names)
    return b"".join(
        [
            f"SET {save};\n".encode(),
            f"SET {apply};\n".encode(),
            body,
            f"SET {restore};\n".encode(),
        ]
    )


def stored_program(
    statement: bytes, *, sql_mode: str = "", charset: str = "utf8mb4", execute_immediate: bool = False
) -> bytes:
    """A CREATE TRIGGER/FUNCTION/PROCEDURE/EVENT whose body holds `;`, delimited as mysqldump does.

    The stock `mysql` client strips comments outside string literals, so a body with comments (as
    applications and migration tools create them) would come back without them; and it drops a CR
    before LF, so a body with CRLF line ends (as tools on Windows write them) would come back with LF.
    Where the server can prepare it (`execute_immediate`: MariaDB 10.6.2+), such a statement is sent as
    a string instead, through EXECUTE IMMEDIATE, which the client passes untouched (its CR, NUL and ^Z
    escaped, as in row values).
    The newline before the delimiter keeps it out of a trailing `-- comment` in the body.
    """
    client_alters = _has_comment_marker(statement) or (
        _backslash_escapes(sql_mode) and any(byte in statement for byte in _CLIENT_ALTERED)
    )
    if execute_immediate and client_alters and charset not in BACKSLASH_UNSAFE_CHARSETS:
        return b"EXECUTE IMMEDIATE " + string_literal(statement, sql_mode=sql_mode) + b";\n"
    d = STORED_PROGRAM_DELIMITER
    return b"DELIMITER " + d + b"\n" + statement + b"\n" + d + b"\nDELIMITER ;\n"


def string_literal(value: bytes, *, sql_mode: str) -> bytes:
    """A single-quoted literal of `value` that the server (under `sql_mode`) reads back byte for byte,
    and, where backslashes escape, that the stock client passes as it is (CR, NUL and ^Z escaped)."""
    if _backslash_escapes(sql_mode):
        value = value.replace(b"\\", b"\\\\")
        for byte, escaped in _CLIENT_ALTERED.items():
            value = value.replace(byte, escaped)
    return b"'" + value.replace(b"'", b"''") + b"'"


# Bytes the stock client does not pass as they are (a CR before LF is dropped, NUL and ^Z end or alter
# its input), with the escapes the server reads back as them.
_CLIENT_ALTERED = {b"\r": b"\\r", b"\0": b"\\0", b"\x1a": b"\\Z"}


def _backslash_escapes(sql_mode: str) -> bool:
    return "NO_BACKSLASH_ESCAPES" not in sql_mode.upper().split(",")


def _has_comment_marker(statement: bytes) -> bool:
    return any(marker in statement for marker in (b"--", b"#", b"/*"))


def object_settings(row: Mapping[str, object], *, sql_mode: str | None = None) -> dict[str, str]:
    """The session an object was created in, from its SHOW CREATE row (text values as bytes or str)."""

    def get(key: str) -> str:
        value = row[key]
        return value.decode() if isinstance(value, bytes) else str(value)

    settings = {"sql_mode": get("sql_mode") if sql_mode is None else sql_mode}
    client = get("character_set_client")
    settings["character_set_client"] = client
    settings["character_set_results"] = client
    settings["collation_connection"] = get("collation_connection")
    if "time_zone" in row:
        settings["time_zone"] = get("time_zone")
    return settings
