"""The dump's session: exact, binary-safe settings and one consistent snapshot, without global locks.

No FLUSH TABLES WITH READ LOCK: it is refused on RDS and Aurora and stalls writers. InnoDB's
consistent snapshot gives every table as of one moment; on MariaDB the binlog position that matches
it is read from `binlog_snapshot_file/position` (and turned into a GTID position), still lock-free.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cloudbackup.format.manifest import ServerInfo, SnapshotPosition

# Long enough for a slow consumer (a throttled upload) never to make the server drop the dump.
NET_TIMEOUT_SECONDS = 3600

# One SET (a round trip per setting adds up over several connections), then the isolation level.
SESSION_SETTINGS = (
    "NAMES utf8mb4",
    "character_set_results = NULL",  # values arrive exactly as stored, never converted
    "time_zone = '+00:00'",  # TIMESTAMP values are written in UTC and restored in UTC
    "sql_mode = ''",  # SHOW CREATE and QUOTE() output without ANSI_QUOTES & co.
    f"SESSION net_write_timeout = {NET_TIMEOUT_SECONDS}",
    f"SESSION net_read_timeout = {NET_TIMEOUT_SECONDS}",
    # A statement (chunks.py) as long as the server can send; a longer one is cut, with a warning.
    "SESSION group_concat_max_len = @@max_allowed_packet",
)
ISOLATION = "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"
START_SNAPSHOT = "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"
# A server-wide statement time limit must not cut a long table read short (each flavour names it so).
# MySQL: SHOW CREATE TABLE names a ROW_FORMAT only where the table was given one (the server's
# show_create_table_verbosity ON would pin every restored table to the source's default); and (8.0.30+)
# a generated invisible primary key (`my_row_id`) is part of the table, whatever the server's
# show_gipk_in_create_table_and_information_schema hides from SHOW CREATE and the column lists.
FLAVOUR_SETTINGS = {
    "mariadb": "SESSION max_statement_time = 0",
    "mysql": "SESSION max_execution_time = 0, SESSION show_create_table_verbosity = OFF"
    " /*!80030 , SESSION show_gipk_in_create_table_and_information_schema = ON */",
}


@dataclass(frozen=True)
class Snapshot:
    server: ServerInfo
    position: SnapshotPosition
    started_at: datetime  # this machine's clock, just before the snapshot opened
    max_allowed_packet: int
    taken_at: datetime | None = None  # the server's clock, just after it opened (server_clock)


def server_info(version: str) -> ServerInfo:
    if "mariadb" in version.lower():
        return ServerInfo(version=version, flavour="mariadb")
    return ServerInfo(version=version, flavour="mysql")


def open_snapshot(conn: Any) -> Snapshot:
    """Set the session up and start the read-only consistent-snapshot transaction on `conn`."""
    with conn.cursor() as cur:
        server, max_allowed_packet = prepare_session(cur)
        return start_snapshot(cur, server, max_allowed_packet)


def prepare_session(cur: Any) -> tuple[ServerInfo, int]:
    """The dump's session settings on `cur`'s connection; the server and its max_allowed_packet."""
    cur.execute("SELECT VERSION(), @@max_allowed_packet")
    version, max_allowed_packet = cur.fetchone()
    server = server_info(str(version))
    cur.execute("SET " + ", ".join((*SESSION_SETTINGS, FLAVOUR_SETTINGS[server.flavour])))
    cur.execute(ISOLATION)
    return server, int(max_allowed_packet)


def start_snapshot(cur: Any, server: ServerInfo, max_allowed_packet: int) -> Snapshot:
    """START the snapshot transaction on a prepared session and read where it stands in the binlog."""
    started_at = machine_clock()
    cur.execute(START_SNAPSHOT)
    taken_at = server_clock(cur)
    position = snapshot_position(cur, server) if server.flavour == "mariadb" else SnapshotPosition()
    return Snapshot(
        server=server,
        position=position,
        started_at=started_at,
        max_allowed_packet=max_allowed_packet,
        taken_at=taken_at,
    )


def machine_clock() -> datetime:
    """The clock of the machine the backup runs on (UTC)."""
    return datetime.now(UTC)


def server_clock(cur: Any) -> datetime | None:
    """The server's clock now (UTC), read in the snapshot: every transaction the snapshot holds
    committed before it. The binary log's event times are the server's clock too, and the machine the
    backup runs on may be seconds off it: a point-in-time restore compares TIME with this."""
    cur.execute("SELECT UTC_TIMESTAMP(6)")
    row = cur.fetchone()
    value = row[0] if row else None
    return value.replace(tzinfo=UTC) if isinstance(value, datetime) else None


def snapshot_position(cur: Any, server: ServerInfo) -> SnapshotPosition:
    """MariaDB: the binlog position (and GTID) of this transaction's snapshot, when binlog is on."""
    status = snapshot_status(cur)
    return position_from_status(status, _gtid_of(cur, status))


def snapshot_status(cur: Any) -> dict[str, str]:
    """MariaDB: `binlog_snapshot_file` and `binlog_snapshot_position` of the session's open snapshot,
    which START TRANSACTION WITH CONSISTENT SNAPSHOT takes with its read view, as one step of the
    commit order: every transaction logged up to it is in the snapshot, none after it."""
    cur.execute("SHOW STATUS LIKE 'binlog_snapshot_%'")
    return {str(k).lower(): str(v) for k, v in cur.fetchall()}


def position_from_status(status: dict[str, str], gtid: str | None) -> SnapshotPosition:
    binlog_file = status.get("binlog_snapshot_file") or None
    pos_text = status.get("binlog_snapshot_position") or ""
    if binlog_file is None or not pos_text.isdigit():
        return SnapshotPosition()
    return SnapshotPosition(binlog_file=binlog_file, binlog_pos=int(pos_text), gtid=gtid or None)


def _gtid_of(cur: Any, status: dict[str, str]) -> str | None:
    binlog_file = status.get("binlog_snapshot_file")
    pos_text = status.get("binlog_snapshot_position") or ""
    if not binlog_file or not pos_text.isdigit():
        return None
    cur.execute("SELECT BINLOG_GTID_POS(%s, %s)", (binlog_file, int(pos_text)))
    row = cur.fetchone()
    return str(row[0]) if row and row[0] is not None else None
