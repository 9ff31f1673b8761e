"""One snapshot on several connections, checked without a lock, so a big table can be read on all at once.

InnoDB cannot hand a read view to another session, and lining several up with a lock (FLUSH TABLES
WITH READ LOCK, BACKUP STAGE) is what the dump promises not to do. So the other snapshots are checked
instead. InnoDB's transaction counter (status `Innodb_max_trx_id`, which MariaDB shows to any user)
moves when a transaction starts writing and again when one commits. The counter is read before the
first snapshot and after the last. If it did not move, nothing began writing or committed in between,
and every read view holds the same rows.

One case slips past the counter: a commit that took its number before the first read but had not yet
become visible. Between those two steps InnoDB only writes the commit to its log buffer. A quiet pause
before the snapshots gives such a commit time to finish, and the counter must stay still through the
pause too.

If the counter moves on every try (a busy server) or the server does not show it (MySQL), the caller
gets no other connection and the dump reads every table on one, as it always could.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from contextlib import ExitStack
from typing import Any

from cloudbackup.mysql.server_text import text
from cloudbackup.mysql.snapshot import START_SNAPSHOT, Snapshot, prepare_session, start_snapshot

log = logging.getLogger(__name__)

QUIET_SECONDS = 0.05
ATTEMPTS = 3
COUNTER = "Innodb_max_trx_id"


def open_shared_snapshot(conn: Any, others: Sequence[Any]) -> tuple[Snapshot, bool]:
    """Start the dump's snapshot on `conn` and, if it can be proved the same, on every one of `others`.

    Returns the snapshot and whether `others` hold it. When they do not, none of them has a
    transaction open and they must not read rows for the dump.
    """
    with ExitStack() as stack:
        cur = stack.enter_context(conn.cursor())
        cursors = [stack.enter_context(other.cursor()) for other in others]
        server, max_allowed_packet = prepare_session(cur)
        for other in cursors:
            prepare_session(other)
        for attempt in range(1, ATTEMPTS + 1):
            before = transaction_counter(cur)
            if before is None or not cursors:
                break
            time.sleep(QUIET_SECONDS)
            snapshot = start_snapshot(cur, server, max_allowed_packet)
            for other in cursors:
                other.execute(START_SNAPSHOT)
            if transaction_counter(cursors[-1]) == before:
                return snapshot, True
            log.debug("attempt %d: transactions committed while the snapshots opened", attempt)
            for other in (*cursors, cur):
                other.execute("ROLLBACK")
        return start_snapshot(cur, server, max_allowed_packet), False


def transaction_counter(cur: Any) -> int | None:
    """InnoDB's transaction id counter, or None where the server does not show it."""
    cur.execute(f"SHOW GLOBAL STATUS LIKE '{COUNTER}'")
    row = cur.fetchone()
    if row is None:
        return None
    value = text(row[1])
    return int(value) if value.isdigit() else None
