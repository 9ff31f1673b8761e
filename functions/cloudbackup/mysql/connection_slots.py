"""How many more connections a backup or restore may open on a server it shares with applications.

Extra connections only speed the work up (a big table read in parallel, rows loaded on several), and
a server refuses connections past max_connections to everyone alike: a backup that took the last
slots (`--jobs 100` typed for 10) would have the applications' next connections refused. So the
extra connections never take the last RESERVE of them: the larger of RESERVED_MIN slots and
RESERVED_SHARE of max_connections stays free, as counted when the work starts.
"""

from __future__ import annotations

from typing import Any

from cloudbackup.mysql.server_text import text

RESERVED_MIN = 10
RESERVED_SHARE = 10  # per cent of max_connections


def spare_connections(cur: Any, wanted: int) -> int:
    """How many of `wanted` more connections may open on `cur`'s server now (0 or more)."""
    cur.execute("SELECT @@GLOBAL.max_connections")
    (limit,) = cur.fetchone()
    cur.execute("SHOW GLOBAL STATUS LIKE 'Threads_connected'")
    row = cur.fetchone()
    connected = int(text(row[1])) if row is not None else 0
    reserve = max(RESERVED_MIN, int(limit) * RESERVED_SHARE // 100)
    return max(0, min(wanted, int(limit) - connected - reserve))
