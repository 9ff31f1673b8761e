"""The second lane's process of the check before loading (confine/lanes.py), started ahead of need.

Why: that process takes about 0.09 s to be ready (an interpreter, then the check's modules), and a
check that starts it when it begins waits that long for it, on the path of every big restore. The
restore command learns from the manifest whether its check will want one before it imports the
restore engine (about 0.1 s more of imports, on one core): started there, the process gets ready on
the other core meanwhile. This module imports only the standard library, so that it costs nothing
to import first.

A process started ahead and never taken waits for its first line and exits quietly when this process
closes the pipe (at the latest, when it exits).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys

LANES_MIN_INPUT_BYTES = 32 << 20  # below this a second process saves less than it costs to start

_ahead: subprocess.Popen[bytes] | None = None


def lanes_help(input_bytes: int) -> bool:
    """Whether a second lane is worth starting for this much SQL on this machine."""
    return input_bytes >= LANES_MIN_INPUT_BYTES and _cores() > 1


def _cores() -> int:
    """The cores this process may run on (Linux knows its affinity; macOS only the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def start_ahead(input_bytes: int) -> None:
    """Start the second lane's process now if a check of `input_bytes` of SQL will want one."""
    global _ahead
    if _ahead is None and lanes_help(input_bytes):
        with contextlib.suppress(OSError):  # none now: the check starts one itself, or runs in one lane
            _ahead = _spawn()


def lane_process() -> subprocess.Popen[bytes]:
    """The process started ahead if it is still there, or a new one (OSError when none can start)."""
    global _ahead
    child, _ahead = _ahead, None
    if child is not None and child.poll() is None:
        return child
    return _spawn()


def _spawn() -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    return subprocess.Popen(
        [sys.executable, "-m", "cloudbackup.confine.lanes"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
    )
