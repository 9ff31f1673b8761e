"""DEFINER clauses on restore: keep them (needs SET USER or SUPER for other users), or rewrite them
to CURRENT_USER for accounts that may not set another definer (RDS, Aurora, managed MariaDB)."""

from __future__ import annotations

import re
from typing import Literal

DefinerPolicy = Literal["keep", "current"]

ER_SPECIFIC_ACCESS_DENIED = 1227  # "you need (at least one of) the SUPER, SET USER privilege(s)"
ER_VIEW_OTHER_USER = 1448  # "You need the SUPER privilege for creation view with … definer"

_ACCOUNT_PART = rb"(?:`(?:[^`]|``)*`|'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[\w.$%-]+)"
_DEFINER = re.compile(
    rb"\bDEFINER\s*=\s*(" + _ACCOUNT_PART + rb"\s*@\s*" + _ACCOUNT_PART + rb"|CURRENT_USER(?:\s*\(\s*\))?)",
    re.IGNORECASE,
)
_OBJECT = re.compile(
    rb"\b(TRIGGER|PROCEDURE|FUNCTION|VIEW|EVENT|PACKAGE\s+BODY|PACKAGE)\s+"
    rb"(?:IF\s+NOT\s+EXISTS\s+)?((?:`(?:[^`]|``)*`|[\w$]+)(?:\s*\.\s*(?:`(?:[^`]|``)*`|[\w$]+))?)",
    re.IGNORECASE,
)
_NAME_PARTS = re.compile(rb"`(?:[^`]|``)*`|[\w$]+")
# DDL as dumps write it, also wrapped in EXECUTE IMMEDIATE '…' (for text the client cannot pass as is).
_DDL_HEAD = re.compile(rb"(?:\s|/\*M?!\d*)*+(?:EXECUTE\s+IMMEDIATE\s+')?(?:CREATE|ALTER)\b", re.IGNORECASE)


def _account(text: bytes) -> str:
    """`a`@`b`, 'a'@'b' or a@b as user@host, unquoted."""
    user, _, host = text.rpartition(b"@") if text.count(b"@") == 1 else text.partition(b"@")
    return f"{_unquote(user.strip())}@{_unquote(host.strip())}"


def _unquote(part: bytes) -> str:
    if part[:1] in (b"`", b"'", b'"') and part[-1:] == part[:1]:
        q = part[:1]
        part = part[1:-1].replace(q + q, q)
    return part.decode("utf-8", "replace")


def object_name(sql: bytes) -> str:
    """`trigger x` for messages, from a CREATE statement."""
    m = _OBJECT.search(sql, 0, 4096)
    if m is None:
        return "object"
    kind = b" ".join(m.group(1).split()).lower().decode()
    # Quoted only where it must be: MariaDB keeps a trigger's text as written and MySQL quotes its name,
    # and a message names the object the same way for both.
    name = ".".join(_as_written(_unquote(part)) for part in _NAME_PARTS.findall(m.group(2)))
    return f"{kind} {name}"


def _as_written(name: str) -> str:
    return name if re.fullmatch(r"[\w$]+", name) else "`" + name.replace("`", "``") + "`"


class DefinerRewriter:
    """With policy `current`, rewrites the DEFINER of CREATE/ALTER statements to CURRENT_USER and
    remembers which objects had another definer (those the restoring user could not have kept)."""

    def __init__(self, policy: DefinerPolicy, current_user: str) -> None:
        self.policy = policy
        self.current_user = current_user
        self.rewritten: list[str] = []

    def rewrite(self, sql: bytes) -> bytes:
        if self.policy == "keep" or not _DDL_HEAD.match(sql):
            return sql
        m = _DEFINER.search(sql, 0, 8192)  # the clause comes before the body: never look into data
        if m is None:
            return sql
        clause = m.group(1)
        if not clause.upper().startswith(b"CURRENT_USER") and _account(clause) != self.current_user:
            self.rewritten.append(f"{object_name(sql)} (definer {_account(clause)})")
        return sql[: m.start()] + b"DEFINER=CURRENT_USER" + sql[m.end() :]


def definer_of(sql: bytes) -> str | None:
    """The account (user@host) a CREATE or ALTER statement's DEFINER clause names; None for
    CURRENT_USER, or without one."""
    m = _DEFINER.search(sql, 0, 8192)  # the clause comes before the body
    if m is None or m.group(1).upper().startswith(b"CURRENT_USER"):
        return None
    return _account(m.group(1))


def definer_error_hint(code: int, sql: bytes, policy: DefinerPolicy) -> str:
    """The advice to append when keeping a DEFINER was refused for lack of privilege."""
    if code not in (ER_SPECIFIC_ACCESS_DENIED, ER_VIEW_OTHER_USER) or policy != "keep":
        return ""
    m = _DEFINER.search(sql, 0, 8192)
    if m is None:
        return ""
    return (
        f" ({object_name(sql)} has DEFINER {_account(m.group(1))}: keeping another user's definer needs "
        "the SET USER or SUPER privilege; rerun with --definer current to create it as the restoring user)"
    )
