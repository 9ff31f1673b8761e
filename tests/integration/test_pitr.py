"""Point-in-time recovery on real servers: archive the binary log, restore a database as it was at T."""

from __future__ import annotations

import pytest

from cloudbackup.backup import backup_database
from cloudbackup.binlog.archive import archive_binlog
from cloudbackup.binlog.pitr import restore_to_time
from cloudbackup.storage.local import LocalStorage
from tests.fixtures.compare import assert_databases_equal, assert_snapshots_equal, snapshot
from tests.integration.pitr_helpers import (
    create_shop,
    disaster,
    first_changes,
    next_second,
    reference_copy,
    second_changes,
)

pytestmark = pytest.mark.integration


def test_restore_to_a_time_equals_the_database_as_it_was_then(log_server, make_log_database, tmp_path):
    # Given a database with a trigger and another database written in the same transactions,
    db, other, ref = make_log_database("pitr"), make_log_database("pitr_other"), make_log_database("pitr_ref")
    store = LocalStorage(tmp_path / "store")
    create_shop(log_server, db, other)
    archive_binlog(log_server, store, "src")
    backup_database(log_server, db, store, source="src")
    # DML archived in a first pass, DDL and more rows in a second
    first_changes(log_server, db, other)
    first = archive_binlog(log_server, store, "src")
    second_changes(log_server, db, other)
    # and a disaster right after T, when a reference copy of the database was taken on the server
    to_time = next_second()
    reference_copy(log_server, db, ref)
    disaster(log_server, db, other)
    second = archive_binlog(log_server, store, "src")
    other_before = snapshot(log_server, other)
    # When the database is restored to T under a new name
    target = make_log_database("pitr_target")
    result = restore_to_time(log_server, [store], db, to_time, target_database=target)
    # Then it equals the reference copy, object by object (rows bit for bit, the trigger, the new table)
    assert first.events > 0
    assert second.events > 0
    assert result.binlog_transactions >= 4
    assert_databases_equal(log_server, ref, target)
    # and the other database was not touched
    assert_snapshots_equal(other_before, snapshot(log_server, other))
