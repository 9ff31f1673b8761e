"""The words for what a partial backup left out, alike in drill, verify and restore lines."""

from __future__ import annotations

from collections.abc import Sequence


def left_out(
    tables: Sequence[str], views: Sequence[str], triggers: Sequence[str] = (), programs: Sequence[str] = ()
) -> str:
    """`a partial backup: without tables a, b and views v and triggers t; procedure p names what it
    left out`: what its manifest says it left out (triggers: those of kept tables naming it, which would
    fail at first use), and the routines and events it kept that fail where they use it."""
    parts = [f"tables {', '.join(tables)}"] if tables else []
    if views:
        parts.append(f"views {', '.join(views)}")
    if triggers:
        parts.append(f"triggers {', '.join(triggers)}")
    line = "a partial backup: without " + " and ".join(parts)
    if programs:
        line += f"; {', '.join(programs)} name{'s' if len(programs) == 1 else ''} what it left out"
    return line
