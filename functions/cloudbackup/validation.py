"""A pydantic ValidationError as one line naming each bad field, for messages and logs.

pydantic's own text runs over several lines and echoes the input, which may be a secret (a database
password in a settings document) or anything at all (a crafted manifest).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pydantic import ValidationError

# How pydantic names the alternatives of a union in an error location, e.g. `literal['*']`.
_UNION_TAG = re.compile(r"^[a-z-]+\[.*\]$")


def describe_errors(exc: ValidationError, rename: Mapping[str, str] | None = None) -> str:
    """`field: message; other.field: message`, without echoing input values (they may be secrets).

    `rename` maps a top-level field to the name the operator knows (an environment variable). The
    alternatives of a union (`list[...]`, `literal[...]`) are merged into one entry per field.
    """
    messages: dict[str, list[str]] = {}
    for error in exc.errors(include_url=False, include_input=False):
        loc = [str(part) for part in error["loc"] if not _UNION_TAG.match(str(part))]
        if loc and rename:
            loc[0] = rename.get(loc[0], loc[0])
        found = messages.setdefault(".".join(loc), [])
        message = error["msg"].removeprefix("Value error, ")
        if message not in found:
            found.append(message)
    return "; ".join(
        f"{where}: {' or '.join(found)}" if where else " or ".join(found) for where, found in messages.items()
    )
