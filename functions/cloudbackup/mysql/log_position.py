"""MySQL: where its binary log stands now (file, offset, executed GTID set), read with what is granted.

MySQL has no MariaDB `binlog_snapshot_file`: nothing ties a position to a transaction's snapshot. This
reads the server's current position; shared_snapshot.py proves it is the snapshot's. The sources, best
first: performance_schema.log_status (BACKUP_ADMIN), which reads file, offset and GTID set together
while the log is held still; then `SHOW BINARY LOG STATUS` (8.4 and later) or `SHOW MASTER STATUS`
(8.0), which need REPLICATION CLIENT; then only `@@global.gtid_executed`, which any user may read.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pymysql

from cloudbackup.format.manifest import SnapshotPosition
from cloudbackup.mysql.server_text import text

ACCESS_DENIED = frozenset({1227, 1142})  # a privilege this source needs is not granted
UNKNOWN_STATEMENT = 1064  # `SHOW BINARY LOG STATUS` before 8.4 (or `SHOW MASTER STATUS` after 8.4)
STATUS_STATEMENTS = ("SHOW BINARY LOG STATUS", "SHOW MASTER STATUS")


def log_position(cur: Any) -> SnapshotPosition | None:
    """The binary log's position now; None where neither it nor a GTID set can be read (binlog off)."""
    position = _from_log_status(cur)
    if position is None:
        position = _from_status_statement(cur)
    if position is None:
        cur.execute("SELECT @@global.gtid_executed")
        row = cur.fetchone()
        gtid = gtid_set(text(row[0])) if row else ""
        position = SnapshotPosition(gtid=gtid) if gtid else None
    return position


def commits_under_way(cur: Any) -> bool:
    """Whether a transaction's commit is between the binary log and InnoDB right now.

    The log's position moves when a commit is written to it, but InnoDB makes that commit visible only
    after the log's sync stage (an fsync, and binlog_group_commit_sync_delay where a busy server sets it).
    `SHOW BINARY LOG STATUS` does not wait for that stage (performance_schema.log_status does): read
    meanwhile, its position is past a transaction no snapshot sees yet. Such a transaction owns its GTID
    (`@@global.gtid_owned`), or with GTIDs off is an anonymous one under way
    (`Ongoing_anonymous_transaction_count`), from the log's flush until its commit; any user may read
    both. (A replica's applier owns its transaction's GTID while it applies it too: a busy replica fails
    the proof the way a busy source does.)"""
    cur.execute("SELECT @@global.gtid_owned")
    row = cur.fetchone()
    if row is not None and text(row[0]).strip():
        return True
    cur.execute("SHOW GLOBAL STATUS LIKE 'Ongoing_anonymous_transaction_count'")
    row = cur.fetchone()
    return row is not None and text(row[1]).strip() not in ("", "0")


def gtid_set(value: str) -> str:
    """A GTID set as one line: the server breaks long ones after each comma."""
    return re.sub(r"\s+", "", value)


def _position(binlog_file: str, binlog_pos: Any, gtid: str) -> SnapshotPosition | None:
    if not binlog_file:
        return SnapshotPosition(gtid=gtid) if gtid else None  # binlog off: no position at all
    return SnapshotPosition(binlog_file=binlog_file, binlog_pos=int(binlog_pos), gtid=gtid or None)


def _from_log_status(cur: Any) -> SnapshotPosition | None:
    try:
        cur.execute("SELECT LOCAL FROM performance_schema.log_status")
    except pymysql.err.MySQLError as exc:
        if exc.args and exc.args[0] in ACCESS_DENIED:
            return None
        raise
    row = cur.fetchone()
    if row is None:
        return None
    local = json.loads(text(row[0]))
    return _position(
        str(local.get("binary_log_file") or ""),
        local.get("binary_log_position") or 0,
        gtid_set(str(local.get("gtid_executed") or "")),
    )


def _from_status_statement(cur: Any) -> SnapshotPosition | None:
    for statement in STATUS_STATEMENTS:
        try:
            cur.execute(statement)
        except pymysql.err.MySQLError as exc:
            if exc.args and exc.args[0] in ACCESS_DENIED:
                return None
            if exc.args and exc.args[0] == UNKNOWN_STATEMENT:
                continue
            raise
        row = cur.fetchone()
        if row is None:
            return None  # binlog off
        names = [d[0] for d in cur.description]
        gtid = text(row[names.index("Executed_Gtid_Set")]) if "Executed_Gtid_Set" in names else ""
        # (Position comes as an int, or as digits in bytes: text() would read an int as that many NULs)
        return _position(text(row[0]), row[1], gtid_set(gtid))
    return None
