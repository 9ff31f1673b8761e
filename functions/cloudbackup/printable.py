"""Text from outside (a dump, a manifest, a server) as a message or a table shows it.

Names may hold any character but NUL: a quoted table name can hold a newline, and a crafted manifest
or dump a terminal's escape sequence. Shown raw, one would break the one-line error or the table's
rows, the other would drive the operator's terminal. Control characters are written as escapes.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def one_line(text: str) -> str:
    """`text` with every control character (C0, DEL, C1) written as its escape: `\\n`, `\\x1b`, …"""
    return _CONTROL.sub(lambda m: repr(m.group(0))[1:-1], text)
