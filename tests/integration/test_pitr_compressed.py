"""MySQL's binlog_transaction_compression (RDS users turn it on): each transaction's events are logged
zstd-compressed in one Transaction_payload event, its GTID event outside it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cloudbackup.binlog import events as ev
from cloudbackup.binlog.archive import archive_binlog
from cloudbackup.binlog.pitr import restore_to_time
from cloudbackup.binlog.replay import segment_events
from cloudbackup.binlog.segments import read_indexes
from cloudbackup.dburl import DbSettings
from cloudbackup.storage.local import LocalStorage
from tests.fixtures.compare import assert_databases_equal, assert_snapshots_equal, snapshot
from tests.fixtures.mariadb import admin_connect, flavour
from tests.integration.pitr_helpers import (
    disaster,
    first_changes,
    next_second,
    reference_copy,
    run,
    second_changes,
    shop_backed_up,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def compressing(log_server: DbSettings) -> Iterator[None]:
    """The server compresses every new session's transactions in its binary log (set back at the end)."""
    if flavour(log_server) != "mysql":
        pytest.skip("binlog_transaction_compression is MySQL's (MariaDB's log_bin_compress is refused)")
    with admin_connect(log_server) as conn, conn.cursor() as cur:
        cur.execute("SELECT @@GLOBAL.binlog_transaction_compression")
        (was,) = cur.fetchone()
    run(log_server, "SET GLOBAL binlog_transaction_compression = ON")
    try:
        yield
    finally:
        run(log_server, f"SET GLOBAL binlog_transaction_compression = {int(was)}")


def test_compressed_transactions_replay_to_the_database_as_it_was(
    log_server, make_log_database, tmp_path, compressing
):
    # Given a backup, then DML, DDL and writes beside another database, each transaction compressed
    store = LocalStorage(tmp_path / "store")
    db, other = shop_backed_up(log_server, make_log_database, store, "zstd")
    ref = make_log_database("zstd_ref")
    first_changes(log_server, db, other)
    second_changes(log_server, db, other)
    to_time = next_second()
    reference_copy(log_server, db, ref)
    disaster(log_server, db, other)
    archive_binlog(log_server, store, "src")
    other_before = snapshot(log_server, other)
    # When the database is restored to T under a new name
    target = make_log_database("zstd_t")
    result = restore_to_time(log_server, [store], db, to_time, target_database=target)
    # Then the archive held compressed transactions, and the database is as it was at T, the other untouched
    kinds = {e.type for s in read_indexes(store, "src") for e in segment_events(store, s)}
    assert ev.TRANSACTION_PAYLOAD in kinds
    assert result.binlog_transactions >= 4
    assert_databases_equal(log_server, ref, target)
    assert_snapshots_equal(other_before, snapshot(log_server, other))
