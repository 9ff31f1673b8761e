"""Event times a session chose: SET TIMESTAMP gives a transaction's events any time, whatever its commit.

MySQL's GTID events hold each transaction's commit time: what the archive reaches and where a replay
stops are read from those. MariaDB's binlog holds only the session's time: where those times do not rise
with the log's order around --to-time, where to stop is not known, and the restore is refused."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from cloudbackup.backup import backup_database
from cloudbackup.binlog.archive import archive_binlog
from cloudbackup.binlog.pitr import restore_to_time
from cloudbackup.binlog.segments import SEGMENT_SUFFIX, read_indexes
from cloudbackup.binlog.status import binlog_status
from cloudbackup.dburl import DbSettings
from cloudbackup.errors import OperationError
from cloudbackup.storage.local import LocalStorage
from tests.fixtures.binlog_server import fresh_log_server
from tests.fixtures.compare import assert_snapshots_equal, snapshot
from tests.fixtures.mariadb import SERVERS
from tests.integration.pitr_helpers import next_second, run, schema_exists

pytestmark = pytest.mark.integration

A_DAY_AHEAD = "SET TIMESTAMP = UNIX_TIMESTAMP() + 86400"
A_DAY_BACK = "SET TIMESTAMP = UNIX_TIMESTAMP() - 86400"
# (a server of its own per test: an event dated a day ahead in the session's servers' binlog would be
# every later test's newest archived event)


def _backed_up(log_server: DbSettings, tmp_path: Path, db: str) -> LocalStorage:
    run(log_server, f"CREATE DATABASE {db}", f"CREATE TABLE {db}.t (id INT PRIMARY KEY, v VARCHAR(40))")
    store = LocalStorage(tmp_path / "store")
    backup_database(log_server, db, store, source="src")
    return store


def _refused_out_of_order(log_server: DbSettings, store: LocalStorage, db: str, to_time: datetime) -> None:
    target = db + "_t"
    with pytest.raises(OperationError) as refused:
        restore_to_time(log_server, [store], db, to_time, target_database=target)
    message = str(refused.value)
    assert "not in commit order around --to-time" in message, message
    assert len(re.findall(r"binlog\.\d+:\d+", message)) >= 2, message  # the events, by position
    assert "restore to " in message
    assert "\n" not in message
    assert not schema_exists(log_server, target)


@pytest.mark.parametrize("server", SERVERS)
def test_a_transaction_logged_a_day_ahead_does_not_end_the_archive_read_for_a_time_before_it(
    server, tmp_path
):
    with fresh_log_server(server, tmp_path / "server", 7) as log_server:
        # Given a backup, then a row written by a session whose clock is set a day ahead, archived alone
        db = "cbt_ahead"
        store = _backed_up(log_server, tmp_path, db)
        run(log_server, A_DAY_AHEAD, "INSERT INTO t VALUES (1, 'a day ahead')", database=db)
        archive_binlog(log_server, store, "src")  # (a segment whose newest event time is tomorrow)
        # and then a row written as usual, before T, archived in a later segment
        run(log_server, "INSERT INTO t VALUES (2, 'before T')", database=db)
        at_time = snapshot(log_server, db)
        to_time = next_second()
        run(log_server, "INSERT INTO t VALUES (3, 'after T')", database=db)
        archive_binlog(log_server, store, "src")
        if server == "mariadb":
            # When the database is restored to T, Then (no commit times: a row logged tomorrow, then one
            # logged before T) where to stop is not known: refused, naming both events
            _refused_out_of_order(log_server, store, db, to_time)
            return
        # When the database is restored to T
        target = "cbt_ahead_t"
        restore_to_time(log_server, [store], db, to_time, target_database=target)
        # Then both rows committed before T are there, and not the one after
        assert_snapshots_equal(at_time, snapshot(log_server, target))


@pytest.mark.parametrize("server", SERVERS)
def test_an_archive_whose_newest_event_is_dated_ahead_does_not_reach_a_time_it_was_not_read_at(
    server, tmp_path
):
    with fresh_log_server(server, tmp_path / "server", 7) as log_server:
        # Given a backup, a row written by a session whose clock is a day ahead, archived
        db = "cbt_unread"
        store = _backed_up(log_server, tmp_path, db)
        run(log_server, A_DAY_AHEAD, "INSERT INTO t VALUES (1, 'a day ahead')", database=db)
        archived = archive_binlog(log_server, store, "src")
        # and then a row committed as usual, not archived yet
        run(log_server, "INSERT INTO t VALUES (2, 'not archived')", database=db)
        to_time = next_second()
        # When the database is restored to T, after both
        with pytest.raises(OperationError) as refused:
            restore_to_time(log_server, [store], db, to_time, target_database=db + "_t")
        # Then it is refused as after the archive (which does not hold row 2), and nothing is made
        assert "is after the archived binlog" in str(refused.value)
        assert not schema_exists(log_server, db + "_t")
        # and the archive's newest time (the lag alarm's) and the window binlog status shows end
        # before T, not tomorrow
        assert archived.newest_event_time is not None
        assert datetime.fromisoformat(archived.newest_event_time) < to_time
        (window,) = [w for w in binlog_status([store]) if w.database == db]
        assert window.recoverable_to is not None
        assert datetime.fromisoformat(window.recoverable_to) < to_time


@pytest.mark.parametrize("server", SERVERS)
def test_a_transaction_logged_a_day_back_but_committed_after_the_time_is_not_replayed(server, tmp_path):
    with fresh_log_server(server, tmp_path / "server", 7) as log_server:
        # Given a backup and a row written before T
        db = "cbt_back"
        store = _backed_up(log_server, tmp_path, db)
        run(log_server, "INSERT INTO t VALUES (3, 'before T')", database=db)
        at_time = snapshot(log_server, db)
        to_time = next_second()
        # and after T, a row written by a session whose clock is a day back, then one written as usual
        run(log_server, A_DAY_BACK, "INSERT INTO t VALUES (5, 'a day back')", database=db)
        run(log_server, "INSERT INTO t VALUES (6, 'after T')", database=db)
        archive_binlog(log_server, store, "src")
        if server == "mariadb":
            # When the database is restored to T, Then (no commit times: row 5's time says before T,
            # the log says after row 3, and nothing between says when) it is refused, naming the events
            _refused_out_of_order(log_server, store, db, to_time)
            return
        # When the database is restored to T
        target = db + "_t"
        restore_to_time(log_server, [store], db, to_time, target_database=target)
        # Then row 5, committed after T, is not there
        assert_snapshots_equal(at_time, snapshot(log_server, target))


class _CountingStorage(LocalStorage):
    """A local store that remembers which archived binlog segments were downloaded (read)."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.segments_read: set[str] = set()

    def iter_range(self, key: str, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        if key.endswith(SEGMENT_SUFFIX):
            self.segments_read.add(key)
        return super().iter_range(key, start, length)


@pytest.mark.parametrize("server", [s for s in SERVERS if s == "mariadb"])
def test_a_stop_by_logged_time_reads_on_only_the_segments_that_may_hold_a_transaction_logged_before_it(
    server, tmp_path
):
    with fresh_log_server(server, tmp_path / "server", 7) as log_server:
        # Given a backup, a row written before T, one after T, archived
        db = "cbt_readon"
        run(log_server, f"CREATE DATABASE {db}", f"CREATE TABLE {db}.t (id INT PRIMARY KEY, v VARCHAR(40))")
        store = _CountingStorage(tmp_path / "store")
        backup_database(log_server, db, store, source="src")
        run(log_server, "INSERT INTO t VALUES (1, 'before T')", database=db)
        at_time = snapshot(log_server, db)
        to_time = next_second()
        run(log_server, "INSERT INTO t VALUES (2, 'after T')", database=db)
        archive_binlog(log_server, store, "src")
        # and three later segments, each of rows logged after T (a restore to a week back: a week of them)
        for n in range(3, 6):
            run(log_server, f"INSERT INTO t VALUES ({n}, 'later')", database=db)
            archive_binlog(log_server, store, "src")
        later_indexes = read_indexes(store, "src")[-3:]
        later = {s.key for s in later_indexes}
        assert all(s.earliest_logged is not None and s.earliest_logged >= to_time for s in later_indexes)
        # When the database is restored to T (stopped by the logged time of row 2: MariaDB)
        restore_to_time(log_server, [store], db, to_time, target_database=db + "_at_t")
        # Then it holds what it held at T, and none of the later segments was downloaded: their
        # indexes say no transaction in them is logged before T
        assert_snapshots_equal(at_time, snapshot(log_server, db + "_at_t"))
        assert store.segments_read & later == set()
        # And given one more segment, with a row a session logged a day back (before T)
        run(log_server, A_DAY_BACK, "INSERT INTO t VALUES (9, 'a day back')", database=db)
        archive_binlog(log_server, store, "src")
        newest = read_indexes(store, "src")[-1].key
        store.segments_read.clear()
        # When the database is restored to T again, Then that segment is read, and the times out of
        # commit order are refused as before; the three between are still not read
        _refused_out_of_order(log_server, store, db, to_time)
        assert store.segments_read & (later | {newest}) == {newest}
