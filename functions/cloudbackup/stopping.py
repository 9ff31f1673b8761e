"""Stopping a long run from outside: SIGTERM (what ECS, systemd and Docker send) or SIGINT (Ctrl-C).

A follower stopped this way commits what it read before it returns: stopping is its normal end.
"""

from __future__ import annotations

import signal
import threading


def stop_on_signals() -> threading.Event:
    """An event set by the next SIGINT or SIGTERM (call from the main thread: Python's rule for handlers)."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    return stop
