"""Whether a CREATE EVENT creates its event DISABLED, as the server reads it.

A drill's copy must never run an event (drill/run.py): its CREATE EVENTs have their status clause, as
SHOW CREATE EVENT writes it, made DISABLE (mysql/feed.py). A crafted backup may write one otherwise (no
status clause, so ENABLE; the clause's words inside a comment before the real one). So the statement
as rewritten is read again with the confinement check's own lexer, comments dropped as the server drops
them: between the event's name and its DO, one DISABLE and no ENABLE, or it is not created.
"""

from __future__ import annotations

from cloudbackup.confine.check import Confinement, _unescape
from cloudbackup.confine.lexer import Token


def creates_disabled(sql: bytes, confinement: Confinement) -> bool:
    """True when `sql` (a CREATE EVENT, maybe sent as EXECUTE IMMEDIATE '…') leaves its event DISABLED."""
    toks = confinement.tokens_of(sql)
    if (
        len(toks) == 3
        and toks[0].text == b"EXECUTE"
        and toks[1].text == b"IMMEDIATE"
        and toks[2].kind == "string"
    ):
        toks = confinement.tokens_of(_unescape(toks[2].text, confinement.modes.backslash_escapes))
    words = [t for t in toks if t.kind == "word"]
    start = next((i for i, t in enumerate(words) if t.text == b"SCHEDULE"), None)
    end = next((i for i, t in enumerate(words) if t.text == b"DO"), None)
    if start is None or end is None or end < start:
        return False
    status = [t for t in words[start:end] if t.text in (b"ENABLE", b"DISABLE")]
    return len(status) == 1 and status[0].text == b"DISABLE" and _runs(status[0], confinement)


def _runs(token: Token, confinement: Confinement) -> bool:
    """A word in a conditional comment counts only where the server is known to run that comment."""
    return not token.hidden or bool(confinement.runs is not None and confinement.runs(token.hidden))
