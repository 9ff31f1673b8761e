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
pause too. With the binary log on, MariaDB also says where in it each snapshot was taken
(`binlog_snapshot_file/position`, exact, taken with the read view in commit order): every connection's
must be the first's, so a logged commit that became visible between two snapshots fails the try however
long it took, pause or not.

MySQL does not show that counter. There the witness is the binary log: its file, offset and executed
GTID set (mysql/log_position.py), read just before the first snapshot opens and again after the last.
A transaction reaches the log (the offset moves) before InnoDB commits it, and its GTID joins the
executed set right after that commit, in the same commit stage. If neither moved, no transaction
became visible while the snapshots opened, so they hold the same rows, and that reading is also the
snapshot's own position: every transaction in the set is in the snapshot, none after it (but for a
commit caught between its InnoDB commit and its GTID, back to back in one stage). A commit can also
wait between the log and InnoDB for as long as the log's sync stage takes (binlog_group_commit_sync_delay
holds it there by design): the offset is then past a transaction no snapshot sees, and stays still. So
each reading also asks whether a commit is under way, and one that says so fails the try
(log_position.commits_under_way). Asked after the position is read, that question also covers the
case the quiet pause waits out on MariaDB (a commit in the log, not yet visible), without waiting: a
commit stays "under way" until InnoDB has committed it, so MySQL takes no pause. MySQL takes this path
even for a dump on one connection, for its position alone.

If the witness moves on every try (a busy server), MySQL has one more way, given a TableLock: the
backup's own tables held still for a moment with `LOCK TABLES … READ` on a session of its own, while
the snapshots open and the position is read (mysql/table_lock.py says why that position is the
snapshot's). It is the only lock the dump ever takes, only after the lock-free proof failed, only on
the backed-up tables, and given up after a short lock wait. MariaDB never takes it.

If no way works (a busy server whose tables cannot be locked, a MariaDB that never pauses, or a
MySQL without the binary log), the caller gets no other connection and the dump reads every table
on one, as it always could; on MySQL the backup then records no position, rather than one that might
not be its own, and a warning says why.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from typing import Any

from cloudbackup.format.manifest import ServerInfo, SnapshotPosition
from cloudbackup.mysql.log_position import commits_under_way, log_position
from cloudbackup.mysql.server_text import text
from cloudbackup.mysql.snapshot import (
    START_SNAPSHOT,
    Snapshot,
    position_from_status,
    prepare_session,
    snapshot_status,
    start_snapshot,
)
from cloudbackup.mysql.table_lock import LockUnavailable, TableLock

log = logging.getLogger(__name__)

QUIET_SECONDS = 0.05
ATTEMPTS = 3
# On MySQL a failed try also costs the backup its position: try longer for a pause between writes,
# waiting a moment after each failed try so that the tries (a few milliseconds each) span a burst of
# commits rather than all fall inside it.
MYSQL_ATTEMPTS = 10
MYSQL_RETRY_SECONDS = 0.05
COUNTER = "Innodb_max_trx_id"


def open_shared_snapshot(
    conn: Any, others: Sequence[Any], lock: TableLock | None = None
) -> tuple[Snapshot, bool]:
    """Start the dump's snapshot on `conn` and, if it can be proved the same, on every one of `others`.

    Returns the snapshot (with its binary log position where it has one) and whether `others` hold
    it. When they do not, none of them has a transaction open and they must not read rows for the dump.
    `lock` (MySQL) holds the backup's tables still when the lock-free proof fails; without it that
    failure costs the position and the other connections.
    """
    with ExitStack() as stack:
        cur = stack.enter_context(conn.cursor())
        cursors = [stack.enter_context(other.cursor()) for other in others]
        server, max_allowed_packet = prepare_session(cur)
        for other in cursors:
            prepare_session(other)
        mysql = server.flavour == "mysql"
        witness = log_reading if mysql else transaction_counter
        # MariaDB's snapshot knows its own position: one connection needs no proof there
        needs_proof = mysql or bool(cursors)
        moved = False
        for attempt in range(1, (MYSQL_ATTEMPTS if mysql else ATTEMPTS) + 1):
            before = witness(cur) if needs_proof else None
            if before is None:
                break
            if not mysql:
                time.sleep(QUIET_SECONDS)
            snapshot = start_snapshot(cur, server, max_allowed_packet)
            for other in cursors:
                other.execute(START_SNAPSHOT)
            if (
                witness(cursors[-1] if cursors else cur) == before
                and not _commit_under_way(before)
                and _same_log_position(snapshot, cursors)
            ):
                if isinstance(before, LogReading):
                    snapshot = replace(snapshot, position=before.position)
                return snapshot, bool(cursors)
            log.debug("attempt %d: transactions committed while the snapshots opened", attempt)
            moved = True
            for other in (*cursors, cur):
                other.execute("ROLLBACK")
            if mysql:
                time.sleep(MYSQL_RETRY_SECONDS)
        if mysql and moved:
            reason = "the server never paused writing"
            if lock is not None:
                try:
                    return _under_lock(cur, cursors, server, max_allowed_packet, lock), bool(cursors)
                except LockUnavailable as exc:
                    reason += f" and {exc}"
            log.warning("%s: this backup records no binary log position", reason)
        return start_snapshot(cur, server, max_allowed_packet), False


def _under_lock(
    cur: Any, others: Sequence[Any], server: ServerInfo, max_allowed_packet: int, lock: TableLock
) -> Snapshot:
    """Every snapshot opened, and the position read, while `lock` holds the backed-up tables still."""
    with lock.held() as locker:
        snapshot = start_snapshot(cur, server, max_allowed_packet)
        for other in others:
            other.execute(START_SNAPSHOT)
        position = log_position(locker)
    log.info(
        "the server never paused writing: the snapshot was taken under LOCK TABLES … READ on %s",
        lock.database,
    )
    return replace(snapshot, position=position) if position is not None else snapshot


@dataclass(frozen=True)
class LogReading:
    """MySQL's witness: the binary log's position, and whether a commit was under way as it was read."""

    position: SnapshotPosition
    commit_under_way: bool


def log_reading(cur: Any) -> LogReading | None:
    """The log's position, then whether a commit is between the log and InnoDB (log_position.py): read
    in that order, a reading with none under way has every transaction the position holds visible."""
    position = log_position(cur)
    if position is None:
        return None
    return LogReading(position, commits_under_way(cur))


def _same_log_position(snapshot: Snapshot, others: Sequence[Any]) -> bool:
    """MariaDB with the binary log on: whether every other connection's snapshot was taken at the
    first's position in the log (MySQL, or no binary log: nothing to compare, True)."""
    position = snapshot.position
    if snapshot.server.flavour != "mariadb" or position.binlog_file is None:
        return True
    # File and offset are compared: each other position is given the first's GTID rather than its own
    # BINLOG_GTID_POS lookup, which the same file and offset would answer alike.
    return all(position_from_status(snapshot_status(other), position.gtid) == position for other in others)


def _commit_under_way(reading: object) -> bool:
    return isinstance(reading, LogReading) and reading.commit_under_way


def transaction_counter(cur: Any) -> int | None:
    """InnoDB's transaction id counter, or None where the server does not show it."""
    cur.execute(f"SHOW GLOBAL STATUS LIKE '{COUNTER}'")
    row = cur.fetchone()
    if row is None:
        return None
    value = text(row[1])
    return int(value) if value.isdigit() else None
