"""Snapshot metadata: server flavour, the binlog position read from MariaDB's status, the dump header."""

from datetime import UTC, datetime

from cloudbackup.format.manifest import SnapshotPosition
from cloudbackup.mysql.dump import FOOTER, header
from cloudbackup.mysql.snapshot import Snapshot, position_from_status, server_info


def test_flavour_from_the_version_string():
    assert server_info("10.11.19-MariaDB-0+deb12u1").flavour == "mariadb"
    assert server_info("8.0.36").flavour == "mysql"


def test_binlog_position_when_the_server_has_one():
    status = {"binlog_snapshot_file": "mysql-bin.000042", "binlog_snapshot_position": "1234"}
    assert position_from_status(status, "0-1-99") == SnapshotPosition(
        binlog_file="mysql-bin.000042", binlog_pos=1234, gtid="0-1-99"
    )


def test_no_position_when_binlog_is_off():
    # MariaDB without log_bin reports an empty file and position 0
    assert position_from_status({"binlog_snapshot_file": "", "binlog_snapshot_position": "0"}, None) == (
        SnapshotPosition()
    )
    assert position_from_status({}, None) == SnapshotPosition()


def test_header_names_the_snapshot_and_sets_the_load_session():
    snapshot = Snapshot(
        server=server_info("10.11.19-MariaDB"),
        position=SnapshotPosition(binlog_file="b.000001", binlog_pos=4, gtid="0-1-2"),
        started_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        max_allowed_packet=16 << 20,
    )
    text = header("shop", snapshot, "0.1.0", "latin1", "latin1_german2_ci")
    assert text.startswith(b"-- cloudbackup 0.1.0 dump of `shop`\n")
    # It names the source and its defaults, and says how to restore it by hand; it uses no database
    assert b"-- source database: `shop`, CHARACTER SET latin1 COLLATE latin1_german2_ci\n" in text
    assert (
        b"--   mysql -e 'CREATE DATABASE copy CHARACTER SET latin1 COLLATE latin1_german2_ci' "
        b"&& zstd -dc F | mysql copy\n" in text
    )
    assert b"USE " not in text
    assert b"CREATE DATABASE `" not in text
    assert b"2026-01-02T03:04:05Z, binlog b.000001:4, GTID 0-1-2" in text
    for setting in (
        b"SET NAMES utf8mb4",
        b"TIME_ZONE='+00:00'",
        b"NO_AUTO_VALUE_ON_ZERO",
        b"FOREIGN_KEY_CHECKS=0",
    ):
        assert setting in text
    assert b"FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS" in FOOTER
