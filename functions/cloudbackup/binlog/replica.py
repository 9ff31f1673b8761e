"""Read the server's binary log as a replica does: COM_BINLOG_DUMP over a pymysql connection.

The request is a few bytes (position, flags, server id, file name) and the answer a stream of
packets each holding one event, so pymysql's own packet reader serves and no replication library
is needed. With BINLOG_DUMP_NON_BLOCK the server ends the stream with EOF at its current end.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pymysql

from cloudbackup.dburl import DbSettings
from cloudbackup.errors import OperationError
from cloudbackup.mysql.connection import connect

COM_BINLOG_DUMP = 0x12
BINLOG_DUMP_NON_BLOCK = 0x01
MARIADB_SEND_ANNOTATE_ROWS = 0x02  # else MariaDB leaves its Annotate_rows events out: positions jump
MARIADB_SLAVE_CAPABILITY_GTID = 4  # send GTID, annotate and checkpoint events as they are
HEARTBEAT_NANOSECONDS = 1_000_000_000  # --follow: an idle server still speaks every second
# A replica id the server has not met: with NON_BLOCK and id 0 the server neither registers us nor
# drops another replica of the same id (what mysqlbinlog does); --follow needs a real one.
FOLLOW_SERVER_ID = 0x7C1B_0C0B
RDS_HINT = "on RDS also CALL mysql.rds_set_configuration('binlog retention hours', 24)"


@dataclass(frozen=True)
class ServerLog:
    flavour: str
    server_id: int
    uuid: str | None  # MySQL's server_uuid (MariaDB has none): two servers may share a server_id
    files: list[tuple[str, int]]  # SHOW BINARY LOGS: name, size, oldest first
    checksum: bool  # events (the made-up Rotate first of all) end with a CRC32


def check_server(db: DbSettings) -> ServerLog:
    """The server's binlog files; refuse (one line naming the fix) a server PITR cannot follow."""
    with connect(db, database="") as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT VERSION(), @@server_id, @@log_bin, @@global.binlog_format, @@global.binlog_checksum"
        )
        version, server_id, log_bin, binlog_format, checksum = cur.fetchone()
        if not int(log_bin):
            raise OperationError(
                f"the binary log is off on {db.host}:{db.port}: start the server with log_bin "
                f"(and binlog_format=ROW) for point-in-time recovery; {RDS_HINT}"
            )
        if str(binlog_format).upper() != "ROW":
            raise OperationError(
                f"binlog_format is {binlog_format} on {db.host}:{db.port}: point-in-time recovery needs "
                f"ROW (SET PERSIST binlog_format = 'ROW', or the parameter group on RDS); {RDS_HINT}"
            )
        flavour = "mariadb" if "mariadb" in str(version).lower() else "mysql"
        uuid = None
        if flavour == "mysql":
            cur.execute("SELECT @@server_uuid")
            uuid = str(cur.fetchone()[0])
        cur.execute("SHOW BINARY LOGS")
        files = [(str(row[0]), int(row[1])) for row in cur.fetchall()]
    return ServerLog(
        flavour=flavour,
        server_id=int(server_id),
        uuid=uuid,
        files=files,
        checksum=str(checksum).upper() == "CRC32",
    )


def dump_events(
    db: DbSettings, flavour: str, binlog_file: str, position: int, *, follow: bool = False
) -> Iterator[bytes]:
    """Raw events from `binlog_file` at `position` on, to the server's end (or forever with `follow`)."""
    conn = connect(db, database="", read_timeout=None if follow else 600)
    try:
        with conn.cursor() as cur:
            # Receive events with the checksums they were written with (else the server refuses).
            cur.execute(
                "SET @master_binlog_checksum = @@global.binlog_checksum, "
                "@source_binlog_checksum = @@global.binlog_checksum, "
                "@mariadb_slave_capability = %s, "
                "@master_heartbeat_period = %s, @source_heartbeat_period = %s",
                (MARIADB_SLAVE_CAPABILITY_GTID, HEARTBEAT_NANOSECONDS, HEARTBEAT_NANOSECONDS),
            )
        flags = 0 if follow else BINLOG_DUMP_NON_BLOCK
        if flavour == "mariadb":
            flags |= MARIADB_SEND_ANNOTATE_ROWS
        server_id = FOLLOW_SERVER_ID if follow else 0
        request = struct.pack("<IHI", position, flags, server_id) + binlog_file.encode()
        _send(conn, request)
        while True:
            packet = _read(conn, db)
            if packet.is_eof_packet():
                return
            yield packet.get_all_data()[1:]  # after the OK byte: one whole event
    finally:
        conn.close()


def _send(conn: Any, request: bytes) -> None:
    conn._execute_command(COM_BINLOG_DUMP, request)


def _read(conn: Any, db: DbSettings) -> Any:
    try:
        return conn._read_packet()
    except pymysql.err.MySQLError as exc:
        code = exc.args[0] if exc.args else 0
        message = exc.args[1] if len(exc.args) > 1 else str(exc)
        raise OperationError(
            f"reading the binary log of {db.host}:{db.port} failed: {code} {message}"
        ) from None
