"""The newest time a restore to a time reaches: the refusal of a later one names it and how to get later."""

from __future__ import annotations

import re
import time
from datetime import datetime

import pytest

from cloudbackup.backup import backup_database
from cloudbackup.binlog.archive import archive_binlog
from cloudbackup.binlog.pitr import restore_to_time
from cloudbackup.errors import OperationError
from cloudbackup.storage.local import LocalStorage
from tests.fixtures.compare import assert_snapshots_equal, snapshot
from tests.integration.pitr_helpers import next_second, run

pytestmark = pytest.mark.integration


def test_a_time_after_the_newest_archived_event_is_refused_naming_the_newest_it_reaches(
    log_server, make_log_database, tmp_path
):
    # Given a backup, a row written, then a second row a second later, the newest write, archived
    db = make_log_database("newest")
    run(log_server, f"CREATE TABLE `{db}`.t (id INT PRIMARY KEY)")
    store = LocalStorage(tmp_path / "store")
    backup_database(log_server, db, store, source="src")
    run(log_server, f"INSERT INTO `{db}`.t VALUES (1)")
    before_newest = snapshot(log_server, db)
    next_second()
    run(log_server, f"INSERT INTO `{db}`.t VALUES (2)")
    at_time = snapshot(log_server, db)
    archive_binlog(log_server, store, "src")
    # When a time after that write, with nothing written since, is asked for
    to_time = next_second()
    with pytest.raises(OperationError) as refused:
        restore_to_time(log_server, [store], db, to_time, target_database=db + "_x")
    # Then the refusal names the newest time the archive reaches and how to reach a later one
    message = str(refused.value)
    newest = re.search(r"the newest --to-time it reaches is (\S+) \(", message)
    assert newest is not None, message
    assert "FLUSH BINARY LOGS" in message
    # and that time is reached: the database as it was before the newest write
    target = make_log_database("newest_t")
    restore_to_time(log_server, [store], db, datetime.fromisoformat(newest.group(1)), target_database=target)
    assert_snapshots_equal(before_newest, snapshot(log_server, target))
    # and as it says, once the server has written past the time and the archive ran again, it is reached
    time.sleep(0.2)
    run(log_server, "FLUSH BINARY LOGS")
    archive_binlog(log_server, store, "src")
    later = make_log_database("newest_l")
    restore_to_time(log_server, [store], db, to_time, target_database=later)
    assert_snapshots_equal(at_time, snapshot(log_server, later))


@pytest.mark.parametrize("written_between", [False, True], ids=["at-the-end", "past-the-end"])
def test_a_backup_newer_than_the_archive_asks_for_an_archive_run_then_restores(
    log_server, make_log_database, tmp_path, written_between
):
    # Given an archive run, then a backup (its position where the archive ends, or past it after a
    # write), then writes: the archive has not run since the backup
    db = make_log_database("behind")
    run(log_server, f"CREATE TABLE `{db}`.t (id INT PRIMARY KEY)")
    store = LocalStorage(tmp_path / "store")
    archive_binlog(log_server, store, "src")
    next_second()
    if written_between:
        run(log_server, f"INSERT INTO `{db}`.t VALUES (0)")
    backup_database(log_server, db, store, source="src")
    run(log_server, f"INSERT INTO `{db}`.t VALUES (1)")
    at_time = snapshot(log_server, db)
    to_time = next_second()
    run(log_server, f"INSERT INTO `{db}`.t VALUES (2)")
    # When the database is restored to a time after the backup
    with pytest.raises(OperationError) as refused:
        restore_to_time(log_server, [store], db, to_time, target_database=db + "_x")
    # Then the refusal says the archive ends before the backup's position and to archive again
    message = str(refused.value)
    assert "ends before" in message, message
    assert "cloudbackup binlog archive" in message
    # and once it has, the time is reached
    archive_binlog(log_server, store, "src")
    target = make_log_database("behind_t")
    restore_to_time(log_server, [store], db, to_time, target_database=target)
    assert_snapshots_equal(at_time, snapshot(log_server, target))
