"""A failover between the backup and TIME: the archive goes on from another server (a promoted replica).

A binlog position is a place in one server's files. The new server's file of the same name holds its
own events (some of them the old server's again, as it replicated them), so the archive must not
read on from the old server's position there: it records a gap, and a restore across it is refused.
"""

from __future__ import annotations

import pytest

from cloudbackup.backup import backup_database
from cloudbackup.binlog.archive import archive_binlog
from cloudbackup.binlog.pitr import restore_to_time
from cloudbackup.dburl import DbSettings
from cloudbackup.errors import OperationError
from cloudbackup.storage.local import LocalStorage
from tests.fixtures.binlog_server import fresh_log_server
from tests.fixtures.mariadb import SERVERS, admin_connect
from tests.integration.pitr_helpers import next_second, run, schema_exists

pytestmark = pytest.mark.integration

DB = "cbt_failover"


def _current_file(settings: DbSettings) -> str:
    with admin_connect(settings) as conn, conn.cursor() as cur:
        cur.execute("SHOW BINARY LOGS")
        return str(cur.fetchall()[-1][0])


def _same_file_in_the_same_second(old: DbSettings, new: DbSettings) -> None:
    """Both servers start a binlog file of one name within one second: the old server's archived file
    and the new server's look alike by name and by their Format_description's time."""
    while _current_file(new) < _current_file(old):
        run(new, "FLUSH BINARY LOGS")
    while _current_file(old) < _current_file(new):
        run(old, "FLUSH BINARY LOGS")
    next_second()
    run(old, "FLUSH BINARY LOGS")
    run(new, "FLUSH BINARY LOGS")


@pytest.mark.parametrize("flavour", SERVERS)
def test_an_archive_going_on_from_a_failed_over_server_records_a_gap(flavour, tmp_path):
    with (
        fresh_log_server(flavour, tmp_path / "old", 7) as old,
        fresh_log_server(flavour, tmp_path / "new", 8) as new,
    ):
        # Given a backup on the old server and its binlog archived, the new one a copy of the database
        _same_file_in_the_same_second(old, new)
        for server in (old, new):
            run(
                server,
                "SET sql_log_bin = 0",
                f"CREATE DATABASE {DB}",
                f"CREATE TABLE {DB}.t (id INT PRIMARY KEY, n INT)",
                f"INSERT INTO {DB}.t VALUES (1, 1)",
            )
        store = LocalStorage(tmp_path / "store")
        backup_database(old, DB, store, source="src")
        run(old, f"UPDATE {DB}.t SET n = n + 1")
        archive_binlog(old, store, "src")
        # When the database fails over to the new server, which writes on, and the archive goes on there
        run(
            new,
            f"UPDATE {DB}.t SET n = n + 1",
            *(f"INSERT INTO {DB}.t VALUES ({i}, {i})" for i in range(2, 40)),
        )
        to_time = next_second()
        run(new, f"INSERT INTO {DB}.t VALUES (99, 99)")
        result = archive_binlog(new, store, "src")
        # Then the archive records a gap naming the other server, in one line
        assert result.gap is not None
        assert "another server" in result.gap
        assert "\n" not in result.gap
        # and a restore from the old server's backup to a time after the failover is refused naming it
        with pytest.raises(OperationError, match=r"in the archive of src for 2 servers .*another server"):
            restore_to_time(new, [store], DB, to_time, target_database="cbt_failover_t")
        assert not schema_exists(new, "cbt_failover_t")
