"""The words for what a partial backup left out, alike in drill, verify and restore lines."""

from __future__ import annotations


def left_out(tables: list[str], views: list[str]) -> str:
    """`a partial backup: without tables a, b and views v`: what its manifest says it left out."""
    parts = [f"tables {', '.join(tables)}"] if tables else []
    if views:
        parts.append(f"views {', '.join(views)}")
    return "a partial backup: without " + " and ".join(parts)
