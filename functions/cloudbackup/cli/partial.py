"""The words for what a partial backup left out, alike in drill, verify and restore lines."""

from __future__ import annotations

from collections.abc import Sequence


def left_out(tables: Sequence[str], views: Sequence[str], triggers: Sequence[str] = ()) -> str:
    """`a partial backup: without tables a, b and views v and triggers t`: what its manifest says it
    left out (the triggers: those of kept tables naming what was left out, which would fail at first use)."""
    parts = [f"tables {', '.join(tables)}"] if tables else []
    if views:
        parts.append(f"views {', '.join(views)}")
    if triggers:
        parts.append(f"triggers {', '.join(triggers)}")
    return "a partial backup: without " + " and ".join(parts)
