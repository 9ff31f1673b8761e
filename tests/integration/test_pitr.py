"""Point-in-time recovery on real servers: archive the binary log, restore a database as it was at T."""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from cloudbackup.backup import backup_database
from cloudbackup.binlog.archive import archive_binlog
from cloudbackup.binlog.pitr import restore_to_time
from cloudbackup.binlog.replica import check_server
from cloudbackup.binlog.segments import SegmentIndex, index_key, read_indexes
from cloudbackup.binlog.status import binlog_status
from cloudbackup.catalog import list_backups
from cloudbackup.dburl import DbSettings, parse_db_url
from cloudbackup.errors import IntegrityError, OperationError, UsageError
from cloudbackup.restore import restore_backup
from cloudbackup.storage.local import LocalStorage
from tests.fixtures.compare import assert_databases_equal, assert_snapshots_equal, q, snapshot
from tests.fixtures.mariadb import TEST_DB_URL, admin_connect, flavour
from tests.integration.backup_helpers import commits_never_stop, inserting
from tests.integration.pitr_helpers import (
    FailingIndexWrites,
    archived_positions,
    bulk_insert_archived,
    create_shop,
    disaster,
    first_changes,
    next_second,
    reference_copy,
    run,
    schema_exists,
    second_changes,
    server_positions,
    shop_backed_up,
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


@pytest.mark.parametrize(
    "partial", [{"schema_only": True}, {"exclude_tables": ["audit"]}], ids=["schema-only", "a-table-left-out"]
)
def test_a_partial_backup_is_never_where_a_restore_to_a_time_starts(
    log_server, make_log_database, tmp_path, partial
):
    # Given a whole backup, then a partial one taken after it (an operator's, before a migration)
    db, other, ref = make_log_database("pitr"), make_log_database("pitr_other"), make_log_database("pitr_ref")
    store = LocalStorage(tmp_path / "store")
    create_shop(log_server, db, other)
    archive_binlog(log_server, store, "src")
    whole = backup_database(log_server, db, store, source="src")
    first_changes(log_server, db, other)
    backup_database(log_server, db, store, source="src", **partial)
    second_changes(log_server, db, other)
    to_time = next_second()
    reference_copy(log_server, db, ref)
    disaster(log_server, db, other)
    archive_binlog(log_server, store, "src")
    # When the database is restored to T, and the archive's window is asked for
    target = make_log_database("pitr_target")
    result = restore_to_time(log_server, [store], db, to_time, target_database=target)
    (window,) = binlog_status([store])
    # Then both start from the whole backup, and every row of every table comes back as it was at T
    assert result.backup_id == whole.id
    assert window.backup_id == whole.id
    assert_databases_equal(log_server, ref, target)


def test_only_partial_backups_before_the_time_are_refused_in_one_line(
    log_server, make_log_database, tmp_path
):
    # Given only a schema-only backup of a database, its binary log archived past it
    db, other = make_log_database("pitr"), make_log_database("pitr_other")
    store = LocalStorage(tmp_path / "store")
    create_shop(log_server, db, other)
    archive_binlog(log_server, store, "src")
    partial = backup_database(log_server, db, store, source="src", schema_only=True)
    first_changes(log_server, db, other)
    to_time = next_second()
    archive_binlog(log_server, store, "src")
    # When a restore to a later time is asked for, and the archive's window
    target = make_log_database("pitr_target")
    with pytest.raises(UsageError) as refused:
        restore_to_time(log_server, [store], db, to_time, target_database=target)
    (window,) = binlog_status([store])
    # Then it is refused in one line naming the partial backup, the target untouched, and no window opens
    assert "\n" not in str(refused.value)
    assert f"partial (schema only or tables left out, as backup {partial.id})" in str(refused.value)
    with admin_connect(log_server) as conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = %s", (target,))
        assert cur.fetchone()[0] == 0
        cur.execute(
            "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name LIKE %s",
            (target + "\\_\\_%",),
        )
        assert cur.fetchone()[0] == 0
    assert window.recoverable_from is None


def start_a_fresh_binary_log(server: DbSettings) -> None:
    """Rotate the binary log and purge every file before the new one."""
    run(server, "FLUSH BINARY LOGS")
    with admin_connect(server) as conn, conn.cursor() as cur:
        cur.execute("SHOW BINARY LOGS")
        newest = [str(row[0]) for row in cur.fetchall()][-1]
        cur.execute(f"PURGE BINARY LOGS TO '{newest}'")


def test_a_killed_archiver_leaves_no_duplicate_and_no_missing_event(log_server, make_log_database, tmp_path):
    # Given a server whose binary log holds several files of events, and only this test's (the suite's
    # MySQL logs every test before it: archiving all that in 2 KiB segments would take minutes)
    start_a_fresh_binary_log(log_server)
    db, other = make_log_database("kill"), make_log_database("kill_other")
    create_shop(log_server, db, other)
    run(log_server, "FLUSH BINARY LOGS")
    first_changes(log_server, db, other)
    store = LocalStorage(tmp_path / "store")
    # When an archiver is killed after its second segment's data, before that segment's index
    with pytest.raises(KeyboardInterrupt):
        archive_binlog(log_server, FailingIndexWrites(store, 2), "src", segment_bytes=2048)  # type: ignore[arg-type]
    killed = archived_positions(store, "src")
    # and more is written before the next run
    second_changes(log_server, db, other)
    archive_binlog(log_server, store, "src", segment_bytes=2048)
    # Then every event of every file is archived exactly once, in order
    archived = archived_positions(store, "src")
    assert sum(map(len, killed.values())) > 0
    assert len(read_indexes(store, "src")) > 3
    for binlog_file, starts in archived.items():
        assert starts == server_positions(log_server, binlog_file), binlog_file
    with admin_connect(log_server) as conn, conn.cursor() as cur:
        cur.execute("SHOW BINARY LOGS")
        assert sorted(archived) == sorted(str(row[0]) for row in cur.fetchall())


def test_a_purged_binlog_is_reported_as_a_gap_that_ends_the_window(log_server, make_log_database, tmp_path):
    # Given a backup and an archive up to it
    store = LocalStorage(tmp_path / "store")
    db, other = shop_backed_up(log_server, make_log_database, store, "gap")
    archive_binlog(log_server, store, "src")
    next_second()  # events after the gap are later than the backup, to the second
    # When the server purges a binlog file that was never archived
    run(log_server, "FLUSH BINARY LOGS")
    first_changes(log_server, db, other)
    run(log_server, "FLUSH BINARY LOGS")
    second_changes(log_server, db, other)
    with admin_connect(log_server) as conn, conn.cursor() as cur:
        cur.execute("SHOW BINARY LOGS")
        newest = [str(row[0]) for row in cur.fetchall()][-1]
        cur.execute(f"PURGE BINARY LOGS TO '{newest}'")
    result = archive_binlog(log_server, store, "src")
    # Then the archiver reports the gap in one line and goes on after it
    assert result.gap is not None
    assert "no longer on the server" in result.gap
    assert "\n" not in result.gap
    assert result.events > 0
    # and the window of the database ends there: no backup after the gap, a restore across it refused
    (window,) = [w for w in binlog_status([store]) if w.database == db]
    assert window.recoverable_from is None
    assert window.gaps[-1].reason == result.gap
    newest_event = read_indexes(store, "src")[-1].last_time
    with pytest.raises(OperationError, match="has a gap after"):
        restore_to_time(log_server, [store], db, newest_event, target_database=db + "_t")
    assert not schema_exists(log_server, db + "_t")


def test_a_server_not_writing_row_events_is_refused_naming_the_fix(log_server):
    # Given a server whose binary log is in MIXED format
    run(log_server, "SET GLOBAL binlog_format = 'MIXED'")
    try:
        # When the archiver checks it, Then it refuses in one line naming the fix
        with pytest.raises(
            OperationError, match=r"binlog_format is MIXED .* needs ROW .*rds_set_configuration"
        ):
            check_server(log_server)
    finally:
        run(log_server, "SET GLOBAL binlog_format = 'ROW'")


def test_a_server_without_binary_log_is_refused_naming_the_fix():
    # Given the machine's MariaDB, which runs without log_bin
    settings = parse_db_url(TEST_DB_URL, environ={})
    # When the archiver checks it, Then it refuses in one line naming the fix
    with pytest.raises(OperationError, match=r"binary log is off .* log_bin .*binlog retention hours"):
        check_server(settings)


def test_follow_keeps_archiving_new_events_until_stopped(log_server, make_log_database, tmp_path):
    # Given an archiver following the server
    db, other = make_log_database("follow"), make_log_database("follow_other")
    store = LocalStorage(tmp_path / "store")
    stop = threading.Event()
    results = []
    follower = threading.Thread(
        target=lambda: results.append(
            archive_binlog(log_server, store, "src", follow=True, should_stop=stop.is_set, commit_seconds=0.2)
        )
    )
    follower.start()
    try:
        # When events are written while it runs
        create_shop(log_server, db, other)
        first_changes(log_server, db, other)
        with admin_connect(log_server) as conn, conn.cursor() as cur:
            cur.execute("SHOW BINARY LOGS")
            newest = [str(row[0]) for row in cur.fetchall()][-1]
        wanted = server_positions(log_server, newest)
        deadline = time.monotonic() + 30
        while archived_positions(store, "src").get(newest) != wanted and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        stop.set()
        follower.join(timeout=30)
    # Then they are archived without another run, and the follower stops when asked
    assert archived_positions(store, "src").get(newest) == wanted
    assert not follower.is_alive()
    assert results[0].events > 0


def test_restore_to_a_time_in_place_undoes_the_disaster(log_server, make_log_database, tmp_path):
    # Given a backup, changes archived, and a disaster right after T
    db, other, ref = (
        make_log_database("inplace"),
        make_log_database("inplace_o"),
        make_log_database("inplace_r"),
    )
    store = LocalStorage(tmp_path / "store")
    create_shop(log_server, db, other)
    backup_database(log_server, db, store, source="src")
    first_changes(log_server, db, other)
    second_changes(log_server, db, other)
    to_time = next_second()
    reference_copy(log_server, db, ref)
    disaster(log_server, db, other)
    archive_binlog(log_server, store, "src")
    # When the damaged database itself is restored to T
    result = restore_to_time(log_server, [store], db, to_time, in_place=True)
    # Then it is the database as it was at T, and the damaged tables are kept aside
    assert_databases_equal(log_server, ref, db)
    assert result.previous_tables_kept_in is not None
    run(log_server, f"DROP DATABASE IF EXISTS `{result.previous_tables_kept_in}`")


def test_a_backup_taken_while_writes_never_pause_restores_to_a_time_exactly(
    log_server, make_log_database, tmp_path, caplog, monkeypatch
):
    # Given sessions committing one row per transaction without pause, into the database and another
    commits_never_stop(monkeypatch)
    db, other, ref = make_log_database("busy"), make_log_database("busy_o"), make_log_database("busy_r")
    for name in (db, other):
        run(log_server, f"CREATE TABLE `{name}`.t (id INT AUTO_INCREMENT PRIMARY KEY, v INT) ENGINE=InnoDB")
    store = LocalStorage(tmp_path / "store")
    with (
        inserting(log_server, db, pause=0, first=200),
        inserting(log_server, other, pause=0, first=200),
        caplog.at_level(logging.INFO, logger="cloudbackup"),
    ):
        # When the database is backed up meanwhile (on MySQL under a brief LOCK TABLES of its table)
        manifest = backup_database(log_server, db, store, source="src")
    to_time = next_second()
    reference_copy(log_server, db, ref)
    run(log_server, f"INSERT INTO `{db}`.t (v) VALUES (1)")
    archive_binlog(log_server, store, "src")
    # And restored to a time after the writes stopped
    target = make_log_database("busy_t")
    restore_to_time(log_server, [store], db, to_time, target_database=target)
    # Then it has every row written by then, each once: the backup's position is its snapshot's
    assert manifest.snapshot.binlog_file is not None
    assert ("the snapshot was taken under LOCK TABLES" in caplog.text) is (flavour(log_server) == "mysql")
    assert_databases_equal(log_server, ref, target)


def test_a_time_after_the_database_was_dropped_is_refused_in_one_line(
    log_server, make_log_database, tmp_path
):
    # Given a backup, then the database dropped (and made again) before T
    store = LocalStorage(tmp_path / "store")
    db, _ = shop_backed_up(log_server, make_log_database, store, "dropped")
    run(log_server, f"DROP DATABASE `{db}`", f"CREATE DATABASE `{db}`")
    to_time = next_second()
    run(log_server, f"CREATE TABLE `{db}`.later (id INT PRIMARY KEY)")
    archive_binlog(log_server, store, "src")
    # When it is restored to T, Then the replay refuses to go past the drop, and nothing is created
    with pytest.raises(OperationError, match=r"was dropped at .*restore to a time before it"):
        restore_to_time(log_server, [store], db, to_time, target_database=db + "_t")
    assert not schema_exists(log_server, db + "_t")


def test_a_damaged_segment_is_refused_before_anything_when_the_time_falls_inside_it(
    log_server, make_log_database, tmp_path
):
    # Given a backup, then changes on both sides of T archived in one segment
    store = LocalStorage(tmp_path / "store")
    db, other = shop_backed_up(log_server, make_log_database, store, "damaged")
    first_changes(log_server, db, other)
    to_time = next_second()
    second_changes(log_server, db, other)
    archive_binlog(log_server, store, "src")
    # and that segment damaged in the middle (a changed byte, the length kept)
    segment = read_indexes(store, "src")[-1]
    path = Path(store.location(segment.key))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    # When the database is restored to T (which the replay reaches before the damaged byte's end)
    target = db + "_t"
    with pytest.raises(IntegrityError, match="does not match its index"):
        restore_to_time(log_server, [store], db, to_time, target_database=target)
    # Then nothing was created: the segment was checked before anything was restored
    assert not schema_exists(log_server, target)


def test_an_xa_transaction_before_the_time_is_refused_not_dropped(log_server, make_log_database, tmp_path):
    # Given a backup, then a row written by an XA transaction (prepared, then committed)
    db = make_log_database("xa")
    run(log_server, f"CREATE TABLE `{db}`.t (id INT PRIMARY KEY) ENGINE=InnoDB")
    store = LocalStorage(tmp_path / "store")
    backup_database(log_server, db, store, source="src")
    run(
        log_server,
        "XA START 'cbt_xa'",
        f"INSERT INTO `{db}`.t VALUES (11)",
        "XA END 'cbt_xa'",
        "XA PREPARE 'cbt_xa'",
        "XA COMMIT 'cbt_xa'",
    )
    to_time = next_second()
    run(log_server, f"INSERT INTO `{db}`.t VALUES (12)")  # (the archive reaches past T)
    archive_binlog(log_server, store, "src")
    # When the database is restored to a time after it
    target = db + "_t"
    with pytest.raises(OperationError, match=r"XA transaction .* restore to a time before it"):
        restore_to_time(log_server, [store], db, to_time, target_database=target)
    # Then it is refused in one line, and nothing is left (the row was never silently left out)
    assert not schema_exists(log_server, target)


def test_ddl_from_a_session_without_a_database_and_text_naming_it_replay_as_written(
    log_server, make_log_database, tmp_path
):
    # Given a backup, then DDL naming the database from a session with no default database, whose
    # comment, default and view text name the database too
    db, ref = make_log_database("names"), make_log_database("names_r")
    run(log_server, f"CREATE TABLE `{db}`.t (id INT PRIMARY KEY) ENGINE=InnoDB COMMENT 'first'")
    store = LocalStorage(tmp_path / "store")
    backup_database(log_server, db, store, source="src")
    run(
        log_server,
        f"ALTER TABLE `{db}`.t COMMENT 'mirror of {db}.t', "
        f"ADD COLUMN note VARCHAR(50) DEFAULT 'see {db}.site'",
        f"INSERT INTO `{db}`.t (id) VALUES (5)",
        f"CREATE TABLE `{db}`.u (id INT PRIMARY KEY, s VARCHAR(20) DEFAULT '{db}.x') ENGINE=InnoDB",
        f"INSERT INTO `{db}`.u (id) VALUES (1)",
    )
    to_time = next_second()
    reference_copy(log_server, db, ref)
    archive_binlog(log_server, store, "src")
    # When it is restored to T under a new name
    target = make_log_database("names_t")
    restore_to_time(log_server, [store], db, to_time, target_database=target)
    # Then it equals the database as it was, the text naming the database as it was written
    assert_databases_equal(log_server, ref, target)
    with admin_connect(log_server) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT note FROM `{target}`.t WHERE id = 5")
        assert cur.fetchone() == (f"see {db}.site",)


def test_the_stop_time_holds_to_the_microsecond_on_mysql_and_to_the_second_on_mariadb(
    log_server, make_log_database, tmp_path
):
    # Given a backup, then rows committed around a stop time that is not a whole second
    db = make_log_database("precise")
    run(log_server, f"CREATE TABLE `{db}`.t (id INT PRIMARY KEY) ENGINE=InnoDB")
    store = LocalStorage(tmp_path / "store")
    backup_database(log_server, db, store, source="src")
    second = next_second()
    sleep_until(second.timestamp() + 0.2)
    run(log_server, f"INSERT INTO `{db}`.t VALUES (1)")  # committed at .2
    sleep_until(second.timestamp() + 0.8)
    run(log_server, f"INSERT INTO `{db}`.t VALUES (2)")  # committed at .8
    # and a statement that starts before a later stop time and commits after it
    run(log_server, f"INSERT INTO `{db}`.t SELECT 3 FROM DUAL WHERE SLEEP(1.5) = 0")
    later = next_second()
    run(log_server, f"INSERT INTO `{db}`.t VALUES (4)")  # (the archive reaches past both times)
    archive_binlog(log_server, store, "src")

    def restored_rows(to_time: datetime) -> list[int]:
        target = make_log_database("precise_t")
        run(log_server, f"DROP DATABASE `{target}`")
        restore_to_time(log_server, [store], db, to_time, target_database=target)
        with admin_connect(log_server) as conn, conn.cursor() as cur:
            cur.execute(f"SELECT id FROM `{target}`.t ORDER BY id")
            return [row[0] for row in cur.fetchall()]

    # When it is restored to the whole second the long statement ran across, and to .5 of the first
    across = restored_rows(later - timedelta(seconds=1))
    if flavour(log_server) == "mysql":
        half = restored_rows(second + timedelta(milliseconds=500))
    else:
        with pytest.raises(OperationError, match=r"logged in the second of --to-time .* whole seconds only"):
            restored_rows(second + timedelta(milliseconds=500))
    # Then on MySQL, whose binlog has each commit's time to the microsecond, the row of .2 is in and the
    # long statement out. MariaDB's binlog has whole seconds, each statement's start: a time inside a
    # second rows were logged in is refused (leaving the row of .2 out gave a database that never was),
    # and the long statement, started before the stop time, counts as before it (README says so).
    if flavour(log_server) == "mysql":
        assert half == [1]
        assert across == [1, 2]
    else:
        assert across == [1, 2, 3]


def sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.time()))


def test_status_ends_the_window_where_an_index_is_missing_as_the_replay_does(
    log_server, make_log_database, tmp_path
):
    # Given a backup, then changes archived in three passes, and the middle pass's index lost
    store = LocalStorage(tmp_path / "store")
    db, other = shop_backed_up(log_server, make_log_database, store, "lost")
    next_second()  # the changes are later than the backup, to the second
    for changes in (first_changes, second_changes, lambda s, d, o: run(s, f"DELETE FROM `{d}`.item")):
        changes(log_server, db, other)
        archive_binlog(log_server, store, "src")
        next_second()
    indexes = read_indexes(store, "src")
    middle = indexes[len(indexes) // 2]
    store.delete(index_key("src", middle.seq))
    # When the window is asked for
    (window,) = [w for w in binlog_status([store]) if w.database == db]
    # Then no backup reaches the newest event across the hole, as a restore there is refused too
    assert window.recoverable_from is None
    assert window.gaps
    with pytest.raises(OperationError, match="has a gap after"):
        restore_to_time(log_server, [store], db, indexes[-1].last_time, target_database=db + "_t")


def test_a_table_created_from_a_select_replays(log_server, make_log_database, tmp_path):
    # Given a backup, then a table made by CREATE TABLE … SELECT (MySQL logs it as one transaction
    # opened by the CREATE), and a row after it
    db, other, ref = make_log_database("ctas"), make_log_database("ctas_o"), make_log_database("ctas_r")
    create_shop(log_server, db, other)
    store = LocalStorage(tmp_path / "store")
    backup_database(log_server, db, store, source="src")
    run(
        log_server,
        f"CREATE TABLE `{db}`.copy AS SELECT id, name FROM `{db}`.item",
        f"INSERT INTO `{db}`.copy VALUES (99, 'after')",
    )
    to_time = next_second()
    reference_copy(log_server, db, ref)
    run(log_server, f"DELETE FROM `{db}`.copy")
    archive_binlog(log_server, store, "src")
    # When it is restored to T
    target = make_log_database("ctas_t")
    restore_to_time(log_server, [store], db, to_time, target_database=target)
    # Then the table and its rows are there, as they were at T
    assert_databases_equal(log_server, ref, target)


def test_a_time_after_an_in_place_restore_asks_for_a_backup_taken_after_it(
    log_server, make_log_database, tmp_path
):
    # Given a backup, then the database restored in place from it (its swap is in the binlog)
    store = LocalStorage(tmp_path / "store")
    db, other = shop_backed_up(log_server, make_log_database, store, "swapped")
    next_second()
    (entry,) = list_backups([store], database=db)
    kept = restore_backup(log_server, entry, in_place=True).previous_tables_kept_in
    first_changes(log_server, db, other)
    to_time = next_second()
    run(log_server, f"DELETE FROM `{db}`.item")
    archive_binlog(log_server, store, "src")
    # When a time after the restore is asked for, from the backup before it
    with pytest.raises(OperationError, match=r"was restored in place at .* needs a backup taken after"):
        restore_to_time(log_server, [store], db, to_time, target_database=db + "_t")
    # Then it says what to do, and nothing was created
    assert not schema_exists(log_server, db + "_t")
    run(log_server, f"DROP DATABASE IF EXISTS `{kept}`")


def test_a_source_whose_archive_key_is_another_sources_is_refused_before_anything_is_written(
    log_server, s3_store
):
    # Given the archive of source "db prod" in a bucket (its key segment, as every name's, folds the
    # space: "db_prod/_binlog/")
    theirs = SegmentIndex(
        seq=0, source="db prod", flavour="mariadb", server_id=99, binlog_file="binlog.000001",
        first_pos=4, end_pos=2000, rotated_to=None, first_event_time="2026-06-15T12:00:00+00:00",
        last_event_time="2026-06-15T12:00:05+00:00", first_gtid=None, last_gtid=None, events=10,
        key="db_prod/_binlog/0000000000-feed.binlog", size=1996, sha256="0" * 64, format_description="",
        archived_at="2026-06-15T12:00:05+00:00",
    )  # fmt: skip
    s3_store.put_bytes(index_key("db prod", 0), theirs.to_json())
    before = sorted(o.key for o in s3_store.list())
    # When another server is archived as source "db_prod"
    with pytest.raises(UsageError) as info:
        archive_binlog(log_server, s3_store, "db_prod")
    # Then it is refused in one line naming both sources, and the other's archive is left as it was
    message = str(info.value)
    assert "'db prod'" in message
    assert "'db_prod'" in message
    assert "\n" not in message
    assert sorted(o.key for o in s3_store.list()) == before
    assert [i.source for i in read_indexes(s3_store, "db prod")] == ["db prod"]


def test_a_change_after_the_time_to_a_table_without_transactions_is_not_replayed(
    log_server, make_log_database, tmp_path
):
    # Given a backup of a database with a MyISAM table, rows written to it before T
    db = make_log_database("myisam")
    run(log_server, f"CREATE TABLE `{db}`.m (id INT PRIMARY KEY, v INT) ENGINE=MyISAM")
    store = LocalStorage(tmp_path / "store")
    backup_database(log_server, db, store, source="src")
    run(log_server, f"INSERT INTO `{db}`.m VALUES (1, 1), (2, 2)")
    at_time = snapshot(log_server, db)  # read only: no event of its own after T
    to_time = next_second()
    # and its rows deleted after T (a change no ROLLBACK can take back)
    run(log_server, f"DELETE FROM `{db}`.m")
    archive_binlog(log_server, store, "src")
    # When it is restored to T
    target = make_log_database("myisam_t")
    restore_to_time(log_server, [store], db, to_time, target_database=target)
    # Then its rows are the ones it held at T: nothing after T was applied
    assert_snapshots_equal(at_time, snapshot(log_server, target))


def test_a_transaction_after_the_time_leaves_the_auto_increment_as_it_was_then(
    log_server, make_log_database, tmp_path
):
    # Given a backup, then rows given AUTO_INCREMENT ids before T
    db = make_log_database("autoinc")
    run(log_server, f"CREATE TABLE `{db}`.t (id INT AUTO_INCREMENT PRIMARY KEY, v INT)")
    store = LocalStorage(tmp_path / "store")
    backup_database(log_server, db, store, source="src")
    run(log_server, f"INSERT INTO `{db}`.t (v) VALUES (1), (2)")
    at_time = snapshot(log_server, db)  # read only: no event of its own after T
    to_time = next_second()
    # and more rows inserted after T
    run(log_server, f"INSERT INTO `{db}`.t (v) VALUES (3), (4), (5)")
    archive_binlog(log_server, store, "src")
    # When it is restored to T
    target = make_log_database("autoinc_t")
    restore_to_time(log_server, [store], db, to_time, target_database=target)
    # Then the next id it gives is the one it would have given at T (AUTO_INCREMENT is compared)
    assert_snapshots_equal(at_time, snapshot(log_server, target))


def test_a_table_or_view_created_in_another_database_from_this_one_is_left_out_of_the_replay(
    log_server, make_log_database, tmp_path
):
    # Given a backup, then tables and a view made in another database from this one's (an operator
    # setting a table aside before a change), from a session without a default database and from one
    # using the other database, and a row written after them
    store = LocalStorage(tmp_path / "store")
    db, other = shop_backed_up(log_server, make_log_database, store, "aside")
    run(
        log_server,
        f"CREATE TABLE `{other}`.item_copy LIKE `{db}`.item",
        f"INSERT INTO `{other}`.item_copy SELECT * FROM `{db}`.item",
        f"CREATE VIEW `{other}`.names AS SELECT name FROM `{db}`.item",
    )
    run(log_server, f"CREATE TABLE audit_copy LIKE `{db}`.audit", database=other)
    run(log_server, f"INSERT INTO `{db}`.item (id, name) VALUES (100, 'after the copy')")
    at_time = snapshot(log_server, db)
    to_time = next_second()
    run(log_server, f"DELETE FROM `{db}`.item")
    archive_binlog(log_server, store, "src")
    # When it is restored to T
    target = make_log_database("aside_t")
    restore_to_time(log_server, [store], db, to_time, target_database=target)
    # Then it is as it was at T: the statements changed only the other database
    assert_snapshots_equal(at_time, snapshot(log_server, target))


def test_ddl_run_in_another_time_zone_replays_in_that_time_zone(log_server, make_log_database, tmp_path):
    # Given a backup, then a TIMESTAMP column with a written default added to a table with rows, and a
    # table made with one, both from a session in another time zone than the server's
    db = make_log_database("tz")
    run(log_server, f"CREATE TABLE `{db}`.t (id INT PRIMARY KEY)", f"INSERT INTO `{db}`.t VALUES (1), (2)")
    store = LocalStorage(tmp_path / "store")
    backup_database(log_server, db, store, source="src")
    run(
        log_server,
        "SET time_zone = '+05:00'",
        "ALTER TABLE t ADD COLUMN ts TIMESTAMP NOT NULL DEFAULT '2020-01-01 00:00:00'",
        "CREATE TABLE u (id INT PRIMARY KEY, d TIMESTAMP NULL DEFAULT '2021-06-01 12:00:00')",
        database=db,
    )
    at_time = snapshot(log_server, db)
    to_time = next_second()
    run(log_server, f"DELETE FROM `{db}`.t")
    archive_binlog(log_server, store, "src")
    # When it is restored to T
    target = make_log_database("tz_t")
    restore_to_time(log_server, [store], db, to_time, target_database=target)
    # Then the rows the ALTER filled and both defaults are the same instants as at T (CHECKSUM TABLE
    # and SHOW CREATE TABLE compared)
    assert_snapshots_equal(at_time, snapshot(log_server, target))


def test_events_created_changed_and_dropped_after_the_backup_replay_where_the_restore_publishes(
    log_server, make_log_database, tmp_path
):
    # Given a backup of a database with two events (not due for years)
    db = make_log_database("events")
    run(log_server, f"CREATE TABLE `{db}`.log (id INT AUTO_INCREMENT PRIMARY KEY, at DATETIME(6))")
    for name in ("kept", "dropped"):
        run(
            log_server,
            f"CREATE EVENT {name} ON SCHEDULE EVERY 1 DAY STARTS '2036-01-01 00:00:00' "
            "DO INSERT INTO log (at) VALUES (NOW(6))",
            database=db,
        )
    store = LocalStorage(tmp_path / "store")
    backup_database(log_server, db, store, source="src")
    # then one of them changed, the other dropped, and a new one made in another time zone
    run(
        log_server,
        "ALTER EVENT kept COMMENT 'changed after the backup'",
        "DROP EVENT dropped",
        "SET time_zone = '+05:00'",
        "CREATE EVENT later ON SCHEDULE EVERY 1 HOUR STARTS '2036-01-01 00:00:00' DO DELETE FROM log",
        f"INSERT INTO `{db}`.log (at) VALUES ('2001-01-01')",
        database=db,
    )
    at_time = snapshot(log_server, db)
    to_time = next_second()
    run(log_server, f"DELETE FROM `{db}`.log")
    archive_binlog(log_server, store, "src")
    # When it is restored to T
    target = make_log_database("events_t")
    restore_to_time(log_server, [store], db, to_time, target_database=target)
    # Then its events (held back from staging, where they would fire) and rows are as at T
    assert_snapshots_equal(at_time, snapshot(log_server, target))


def test_ddl_run_without_foreign_key_checks_replays_without_them(log_server, make_log_database, tmp_path):
    # Given a backup, then tables made and dropped with foreign_key_checks off, as migration tools do
    # (a child before its parent; a parent dropped and made again under its child)
    db = make_log_database("fkc")
    run(log_server, f"CREATE TABLE `{db}`.p (id INT PRIMARY KEY)")
    store = LocalStorage(tmp_path / "store")
    backup_database(log_server, db, store, source="src")
    run(
        log_server,
        "SET foreign_key_checks = 0",
        "CREATE TABLE c (id INT PRIMARY KEY, qid INT, FOREIGN KEY (qid) REFERENCES q (id))",
        "CREATE TABLE q (id INT PRIMARY KEY)",
        "INSERT INTO q VALUES (5)",
        "INSERT INTO c VALUES (1, 5)",
        "DROP TABLE q",
        "CREATE TABLE q (id INT PRIMARY KEY)",
        "INSERT INTO q VALUES (5)",
        database=db,
    )
    at_time = snapshot(log_server, db)
    to_time = next_second()
    run(log_server, f"DELETE FROM `{db}`.c")
    archive_binlog(log_server, store, "src")
    # When it is restored to T
    target = make_log_database("fkc_t")
    restore_to_time(log_server, [store], db, to_time, target_database=target)
    # Then it is as it was at T
    assert_snapshots_equal(at_time, snapshot(log_server, target))


def test_the_database_character_set_changed_after_the_backup_replays(log_server, make_log_database, tmp_path):
    # Given a backup of a utf8mb4 database, then its default character set changed (by name, and as the
    # session's database) and a table made without one, with a row
    db = make_log_database("dbcs")
    run(
        log_server,
        f"ALTER DATABASE `{db}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
        f"CREATE TABLE `{db}`.a (id INT PRIMARY KEY, s VARCHAR(10))",
    )
    store = LocalStorage(tmp_path / "store")
    backup_database(log_server, db, store, source="src")
    run(log_server, f"ALTER DATABASE `{db}` CHARACTER SET latin1")
    run(
        log_server,
        "ALTER DATABASE DEFAULT CHARACTER SET = latin1 COLLATE latin1_bin",
        "CREATE TABLE b (id INT PRIMARY KEY, s VARCHAR(10))",
        "INSERT INTO b VALUES (1, 'é')",
        database=db,
    )
    at_time = snapshot(log_server, db)
    to_time = next_second()
    run(log_server, f"DELETE FROM `{db}`.b")
    archive_binlog(log_server, store, "src")
    # When it is restored to T
    target = make_log_database("dbcs_t")
    restore_to_time(log_server, [store], db, to_time, target_database=target)
    # Then the table has the character set it was made with, its row, and the database its default
    assert_snapshots_equal(at_time, snapshot(log_server, target))


def test_tables_of_another_database_dropped_or_truncated_from_this_one_are_left_out_of_the_replay(
    log_server, make_log_database, tmp_path
):
    # Given a backup, then tables of another database truncated and dropped from a session using this one
    store = LocalStorage(tmp_path / "store")
    db, other = shop_backed_up(log_server, make_log_database, store, "dropx")
    run(
        log_server,
        f"CREATE TABLE `{other}`.x (id INT PRIMARY KEY)",
        f"CREATE TABLE `{other}`.y (id INT PRIMARY KEY)",
    )
    run(
        log_server,
        f"TRUNCATE TABLE `{other}`.o",
        f"DROP TABLE `{other}`.x, `{other}`.y",
        "INSERT INTO item (id, name) VALUES (100, 'after the drop')",
        database=db,
    )
    at_time = snapshot(log_server, db)
    to_time = next_second()
    run(log_server, f"DELETE FROM `{db}`.item")
    archive_binlog(log_server, store, "src")
    # When it is restored to T
    target = make_log_database("dropx_t")
    restore_to_time(log_server, [store], db, to_time, target_database=target)
    # Then it is as it was at T: the statements changed only the other database
    assert_snapshots_equal(at_time, snapshot(log_server, target))


PACKET_FOR_THE_TEST = 4 << 20


def test_a_statement_whose_row_events_outgrow_max_allowed_packet_is_replayed_whole(
    log_server, make_log_database, tmp_path
):
    # Given a database backed up, then one INSERT … SELECT whose row events (~7 MiB) are more than
    # the server's max_allowed_packet (4 MiB here; MariaDB's default is 16 MiB: a bulk load outgrows it)
    db, target = make_log_database("pitr_bulk"), make_log_database("pitr_bulk_target")
    store = LocalStorage(tmp_path / "store")
    to_time = bulk_insert_archived(log_server, db, store)
    with admin_connect(log_server) as conn, conn.cursor() as cur:
        cur.execute("SELECT @@GLOBAL.max_allowed_packet")
        (packet,) = cur.fetchone()
        cur.execute(f"SET GLOBAL max_allowed_packet = {PACKET_FOR_THE_TEST}")
    try:
        # When the database is restored to a time after that statement
        result = restore_to_time(log_server, [store], db, to_time, target_database=target)
    finally:
        with admin_connect(log_server) as conn, conn.cursor() as cur:
            cur.execute(f"SET GLOBAL max_allowed_packet = {packet}")
    # Then every row of it is there, bit for bit
    assert result.binlog_transactions == 1
    with admin_connect(log_server) as conn, conn.cursor() as cur:
        cur.execute(f"DELETE FROM {q(db)}.t WHERE id = 0")
        cur.execute(f"CHECKSUM TABLE {q(db)}.t, {q(target)}.t")
        (_, source_sum), (_, restored_sum) = cur.fetchall()
    assert restored_sum == source_sum


def test_one_row_too_large_for_a_statement_the_server_takes_is_named_with_the_setting_to_raise(
    log_server, make_log_database, tmp_path
):
    # Given a database backed up, then one row of 3.5 MiB written by a short statement (REPEAT), whose
    # rows event no BINLOG statement under a max_allowed_packet of 4 MiB holds (base64: 4/3 larger)
    db = make_log_database("pitr_bigrow")
    store = LocalStorage(tmp_path / "store")
    run(log_server, "CREATE TABLE t (id INT PRIMARY KEY, b LONGBLOB)", database=db)
    archive_binlog(log_server, store, "src")
    backup_database(log_server, db, store, source="src")
    run(log_server, "INSERT INTO t VALUES (1, REPEAT(0xAB, 3584 * 1024))", database=db)
    to_time = next_second()
    run(log_server, "INSERT INTO t VALUES (0, NULL)", database=db)  # (the archive reaches past T)
    archive_binlog(log_server, store, "src")
    target = f"{db}_t"
    with admin_connect(log_server) as conn, conn.cursor() as cur:
        cur.execute("SELECT @@GLOBAL.max_allowed_packet")
        (packet,) = cur.fetchone()
        cur.execute(f"SET GLOBAL max_allowed_packet = {PACKET_FOR_THE_TEST}")
    try:
        # When it is restored to a time after that row
        with pytest.raises(OperationError) as failed:
            restore_to_time(log_server, [store], db, to_time, target_database=target)
    finally:
        with admin_connect(log_server) as conn, conn.cursor() as cur:
            cur.execute(f"SET GLOBAL max_allowed_packet = {packet}")
    # Then it fails naming the setting and the size it needs (not the server's dropped connection),
    # and the target was never made
    message = str(failed.value)
    assert "max_allowed_packet (4,194,304)" in message, message
    assert "at least 5M" in message, message
    with admin_connect(log_server) as conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = %s", (target,))
        assert cur.fetchone() == (0,)


def test_a_backup_whose_clock_is_behind_the_servers_never_starts_a_restore_to_a_time_before_its_snapshot(
    log_server, make_log_database, tmp_path, monkeypatch
):
    # Given a backup and changes, T, a disaster after T, and then a second backup made by a machine
    # whose clock is behind the server's: it reads just before T as the snapshot opens
    db, other, ref = make_log_database("skew"), make_log_database("skew_o"), make_log_database("skew_r")
    store = LocalStorage(tmp_path / "store")
    create_shop(log_server, db, other)
    first = backup_database(log_server, db, store, source="src")
    first_changes(log_server, db, other)
    second_changes(log_server, db, other)
    to_time = next_second()
    reference_copy(log_server, db, ref)
    disaster(log_server, db, other)
    with monkeypatch.context() as clock:
        clock.setattr("cloudbackup.mysql.snapshot.machine_clock", lambda: to_time - timedelta(milliseconds=1))
        late = backup_database(log_server, db, store, source="src")
    archive_binlog(log_server, store, "src")
    assert first.started_at < late.started_at < to_time
    # When the database is restored to T
    target = make_log_database("skew_t")
    result = restore_to_time(log_server, [store], db, to_time, target_database=target)
    # Then it starts from the first backup, whose snapshot the server took before T, not from the
    # second, whose snapshot already lacks what the disaster deleted: the database as it was at T
    assert result.backup_id == first.id
    assert_databases_equal(log_server, ref, target)
