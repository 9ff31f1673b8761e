"""The status clause of a logged CREATE or ALTER EVENT (ENABLE, DISABLE, DISABLE ON SLAVE), read and
changed without touching the statement's strings, names or comments.

A replay holds event DDL back and runs it, in order, where the restore publishes. Run as logged, an
event made enabled and disabled later (or enabled for a while) is enabled for a moment there, and the
scheduler runs a due one at once: a change the source never made by the time restored to. So each held
statement leaves its event disabled, and the status the statements gave it is set once, after them all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_WORD = rb"[\w$\x80-\xff]+"


def _tokens(escapes: bool) -> re.Pattern[bytes]:
    """Strings and comments matched whole (never read as words); a name, a word or a dot otherwise."""
    if escapes:
        strings = rb"'(?:[^'\\]|\\[\s\S]|'')*'|\"(?:[^\"\\]|\\[\s\S]|\"\")*\""
    else:
        strings = rb"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\""
    comments = rb"/\*(?![!M]).*?\*/|(?:--[ \t\r\f\v]|#)[^\n]*"
    return re.compile(
        rb"(?P<skip>" + strings + rb"|" + comments + rb")"
        rb"|(?P<name>`(?:[^`]|``)*`)|(?P<word>" + _WORD + rb")|\.",
        re.S,
    )


_TOKENS = {True: _tokens(True), False: _tokens(False)}


@dataclass(frozen=True)
class EventStatement:
    status: str | None  # what the statement sets: "ENABLE", "DISABLE", "DISABLE ON SLAVE", or None (kept)
    renamed_to: str | None  # ALTER EVENT … RENAME TO: the event's new name (lower case), without database
    disabled: bytes  # the statement, leaving its event disabled where it would enable it
    if_not_exists: bool = False  # CREATE EVENT IF NOT EXISTS: does nothing where the event exists


def read_event_statement(text: bytes, verb: str, escapes: bool) -> EventStatement:
    """`text` is a CREATE or ALTER EVENT (`verb`); a CREATE without a status clause enables its event."""
    tokens = [m for m in _TOKENS[escapes].finditer(text) if m.group("skip") is None]
    words = [(m.group("word") or b"").upper() for m in tokens]
    at = _after_event_name(tokens, words)
    if_not_exists = verb == "CREATE" and b"IF" in words[:at]
    body = words.index(b"DO", at) if b"DO" in words[at:] else len(tokens)
    status, span, renamed_to = None, None, None
    for i in range(at, body):
        if words[i] == b"ENABLE":
            status, span = "ENABLE", (tokens[i].start(), tokens[i].end())
        elif words[i] == b"DISABLE":
            on_replica = words[i + 1 : i + 3] in ([b"ON", b"SLAVE"], [b"ON", b"REPLICA"])
            status = "DISABLE ON SLAVE" if on_replica else "DISABLE"
        elif words[i] == b"RENAME" and i + 2 < body and words[i + 1] == b"TO":
            last = i + 4 if i + 4 < body and tokens[i + 3].group(0) == b"." else i + 2
            renamed_to = _unquoted(tokens[last].group(0)).lower()
    if status is None and verb == "CREATE":
        status = "ENABLE"
        comment = next((i for i in range(at, body) if words[i] == b"COMMENT"), body)
        where = tokens[comment].start() if comment < len(tokens) else len(text)
        disabled = text[:where] + b"DISABLE " + text[where:]
    elif span is not None:
        disabled = text[: span[0]] + b"DISABLE" + text[span[1] :]
    else:
        disabled = text
    return EventStatement(
        status=status, renamed_to=renamed_to, disabled=disabled, if_not_exists=if_not_exists
    )


def _after_event_name(tokens: list[re.Match[bytes]], words: list[bytes]) -> int:
    """The index of the first token after `EVENT [IF [NOT] EXISTS] [db.]name` (a name may be `enable`)."""
    i = words.index(b"EVENT") + 1 if b"EVENT" in words else 0
    if words[i : i + 1] == [b"IF"]:
        i += 3 if words[i + 1 : i + 2] == [b"NOT"] else 2
    i += 1
    if i < len(tokens) and tokens[i].group(0) == b".":
        i += 2
    return i


def _unquoted(name: bytes) -> str:
    text = name.decode("utf-8", "surrogateescape")
    return text[1:-1].replace("``", "`") if text.startswith("`") else text
