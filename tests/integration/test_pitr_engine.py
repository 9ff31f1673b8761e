"""A table the binary log creates without ENGINE: the binlog does not say which engine it got."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cloudbackup.backup import backup_database
from cloudbackup.binlog.archive import archive_binlog
from cloudbackup.binlog.pitr import restore_to_time
from cloudbackup.dburl import DbSettings
from cloudbackup.storage.local import LocalStorage
from tests.fixtures.compare import assert_snapshots_equal, snapshot
from tests.fixtures.mariadb import admin_connect
from tests.integration.pitr_helpers import next_second, run

pytestmark = pytest.mark.integration


@pytest.fixture
def default_engine(log_server: DbSettings) -> Iterator[None]:
    """The server's default_storage_engine given back at the end."""
    with admin_connect(log_server) as conn, conn.cursor() as cur:
        cur.execute("SELECT @@GLOBAL.default_storage_engine")
        (was,) = cur.fetchone()
    yield
    run(log_server, f"SET GLOBAL default_storage_engine = {was}")


def test_a_table_the_binlog_makes_without_engine_is_innodb_whatever_the_servers_default(
    log_server, make_log_database, tmp_path, default_engine
):
    # Given a backup, then a table made without ENGINE (InnoDB, the source's default), with rows
    db = make_log_database("engine")
    store = LocalStorage(tmp_path / "store")
    backup_database(log_server, db, store, source="src")
    run(log_server, "CREATE TABLE t (id INT PRIMARY KEY, v INT)", "INSERT INTO t VALUES (1, 1)", database=db)
    at_time = snapshot(log_server, db)
    to_time = next_second()
    run(log_server, f"INSERT INTO `{db}`.t VALUES (2, 2)")
    archive_binlog(log_server, store, "src")
    # When it is restored to T where the default engine is now MyISAM
    run(log_server, "SET GLOBAL default_storage_engine = MyISAM")
    target = make_log_database("engine_t")
    restore_to_time(log_server, [store], db, to_time, target_database=target)
    # Then the table is InnoDB, as at T (SHOW CREATE TABLE compared), with its rows
    assert_snapshots_equal(at_time, snapshot(log_server, target))
