"""Two archive runs of one source at once (a deployment without the binlog function's reserved concurrency,
a cron job beside it): the archive stays one archive, and the run that lost the race stops in one line."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from cloudbackup.binlog.archive import ArchiveResult, archive_binlog
from cloudbackup.binlog.pitr import restore_to_time
from cloudbackup.binlog.segments import INDEX_SUFFIX, SEGMENT_SUFFIX, binlog_prefix, follows, read_indexes
from cloudbackup.binlog.status import binlog_status
from cloudbackup.cli import cmd_binlog
from cloudbackup.cli.main import main
from cloudbackup.cli.stores import StoreSet
from cloudbackup.storage.base import Storage
from cloudbackup.storage.local import LocalStorage
from tests.fixtures.compare import assert_databases_equal
from tests.fixtures.mariadb import admin_connect, db_url
from tests.integration.pitr_helpers import (
    archived_positions,
    disaster,
    first_changes,
    next_second,
    reference_copy,
    run,
    second_changes,
    server_positions,
    shop_backed_up,
)

pytestmark = pytest.mark.integration

SEGMENT_BYTES = 2048  # several segments: the run that wins commits more than the one the loser wanted


class OvertakenAt:
    """A store through which a run is overtaken: at its first index commit (`moment`: before it looks for
    the index, or after it looked and found none, just before it writes it) another whole run archives."""

    def __init__(self, store: Storage, moment: str, other_run: Callable[[], ArchiveResult]) -> None:
        self.store, self.moment, self.other_run = store, moment, other_run
        self.other: ArchiveResult | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def list(self, prefix: str = "") -> Any:
        if self.moment == "before-its-check" and prefix.endswith(INDEX_SUFFIX):
            self._overtake()
        return self.store.list(prefix)

    def put_bytes(self, key: str, data: bytes) -> None:
        if self.moment == "between-its-check-and-its-write" and key.endswith(INDEX_SUFFIX):
            self._overtake()
        self.store.put_bytes(key, data)

    def _overtake(self) -> None:
        if self.other is None:
            self.other = self.other_run()


def start_a_fresh_binary_log(server: Any) -> None:
    """Only this test's events in the binary log (the suite's MySQL logs every test before it)."""
    run(server, "FLUSH BINARY LOGS")
    with admin_connect(server) as conn, conn.cursor() as cur:
        cur.execute("SHOW BINARY LOGS")
        newest = [str(row[0]) for row in cur.fetchall()][-1]
        cur.execute(f"PURGE BINARY LOGS TO '{newest}'")


@pytest.mark.parametrize("moment", ["before-its-check", "between-its-check-and-its-write"])
@pytest.mark.parametrize("kind", ["local", "s3"])
def test_two_overlapping_runs_leave_one_archive_and_the_overtaken_one_stops_in_one_line(
    log_server, make_log_database, tmp_path, request, kind, moment
):
    # Given a backup of a database changed after it, on a fresh binary log
    start_a_fresh_binary_log(log_server)
    store = LocalStorage(tmp_path / "store") if kind == "local" else request.getfixturevalue("s3_store")
    db, other = shop_backed_up(log_server, make_log_database, store, "race")
    ref = make_log_database("race_ref")
    first_changes(log_server, db, other)
    # When a run, about to commit its first segment, is overtaken by another run that archives it all
    racing = OvertakenAt(
        store, moment, lambda: archive_binlog(log_server, store, "src", segment_bytes=SEGMENT_BYTES)
    )
    overtaken = archive_binlog(log_server, racing, "src", segment_bytes=SEGMENT_BYTES)  # type: ignore[arg-type]
    # and after more changes, a reference copy at T and a disaster, a later run archives the rest
    second_changes(log_server, db, other)
    to_time = next_second()
    reference_copy(log_server, db, ref)
    disaster(log_server, db, other)
    later = archive_binlog(log_server, store, "src", segment_bytes=SEGMENT_BYTES)
    # Then the overtaken run said so in one line, and committed nothing
    assert overtaken.overtaken == (
        "another run archived binlog segment 1 of src first; this run stopped there "
        "(the next run goes on from the newest segment)"
    )
    assert overtaken.segments == 0
    assert racing.other is not None
    assert racing.other.segments > 1
    # and the archive is one archive: numbered without a hole, each segment where the one before ended,
    # every event of the binary log in it once and in order, the later run's segments after the winner's
    indexes = read_indexes(store, "src")
    assert [i.seq for i in indexes] == list(range(1, len(indexes) + 1))
    assert all(follows(before, after) for before, after in itertools.pairwise(indexes))
    for binlog_file, starts in archived_positions(store, "src").items():
        assert starts == server_positions(log_server, binlog_file), binlog_file
    assert later.segments > 0
    assert len(indexes) == racing.other.segments + later.segments
    # and of its data: an overtaken run that looked before its upload left none; one that lost the write of
    # its index left its one data object, which no index names and nothing reads
    unread = {o.key for o in store.list(binlog_prefix("src")) if o.key.endswith(SEGMENT_SUFFIX)} - {
        i.key for i in indexes
    }
    assert len(unread) == (0 if moment == "before-its-check" else 1)
    (window,) = binlog_status([store])
    assert window.gaps == []
    assert window.recoverable_from is not None
    # and a restore to T from it equals the database as it was then
    target = make_log_database("race_target")
    restore_to_time(log_server, [store], db, to_time, target_database=target)
    assert_databases_equal(log_server, ref, target)


def test_the_command_line_run_that_is_overtaken_says_so_in_one_line_and_exits_0(
    log_server, make_log_database, tmp_path, monkeypatch, capsys
):
    # Given events to archive, and a `binlog archive` run that another run overtakes at its first commit
    start_a_fresh_binary_log(log_server)
    db = make_log_database("race_cli")
    run(log_server, "CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1), (2)", database=db)
    store = LocalStorage(tmp_path / "store")
    racing = OvertakenAt(store, "before-its-check", lambda: archive_binlog(log_server, store, "src"))
    monkeypatch.setattr(cmd_binlog, "stores_from_args", lambda args: StoreSet(write=racing, read=[store]))  # type: ignore[arg-type]
    # When it runs
    code = main(
        ["binlog", "archive", "--db-url", db_url(log_server), "--source", "src", "--data", str(store.root)]
    )
    # Then it exits 0 (the archive is whole, the other run has it) with one line on stderr saying why
    out, err = capsys.readouterr()
    assert code == 0
    assert err == (
        "cloudbackup: another run archived binlog segment 1 of src first; this run stopped there "
        "(the next run goes on from the newest segment)\n"
    )
    assert "archived 0 binlog events of src in 0 segments" in out
    assert racing.other is not None
    assert [i.seq for i in read_indexes(store, "src")] == [1]


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_two_runs_started_together_in_threads_neither_fails_and_the_archive_is_whole(
    log_server, make_log_database, tmp_path, request, kind
):
    # Given events in many small segments' worth, on a fresh binary log
    start_a_fresh_binary_log(log_server)
    store = LocalStorage(tmp_path / "store") if kind == "local" else request.getfixturevalue("s3_store")
    db, other = shop_backed_up(log_server, make_log_database, store, "race_threads")
    first_changes(log_server, db, other)
    second_changes(log_server, db, other)
    # When two runs start at once, each in its own thread (however the scheduler interleaves them)
    start = threading.Barrier(2)

    def one_run() -> ArchiveResult:
        start.wait()
        return archive_binlog(log_server, store, "src", segment_bytes=SEGMENT_BYTES)

    with ThreadPoolExecutor(2) as pool:
        results = [f.result() for f in [pool.submit(one_run), pool.submit(one_run)]]
    # Then neither failed; one that was overtaken said so, and committed only before it was
    for result in results:
        assert result.overtaken is None or result.overtaken.startswith("another run archived binlog segment ")
    # and the archive holds every event of the binary log once, in order, in segments without a hole
    indexes = read_indexes(store, "src")
    assert [i.seq for i in indexes] == list(range(1, len(indexes) + 1))
    assert all(follows(before, after) for before, after in itertools.pairwise(indexes))
    assert sum(r.segments for r in results) == len(indexes)
    for binlog_file, starts in archived_positions(store, "src").items():
        assert starts == server_positions(log_server, binlog_file), binlog_file
