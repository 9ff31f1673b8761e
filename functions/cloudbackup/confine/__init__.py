"""Restores confined to their target: the statements a dump may hold, checked before loading."""
