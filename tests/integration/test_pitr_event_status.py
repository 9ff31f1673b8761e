"""Point-in-time restore of event DDL: the published events are as they were at the time, and none runs
at publish what the source did not run."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from cloudbackup.backup import backup_database
from cloudbackup.binlog.archive import archive_binlog
from cloudbackup.binlog.pitr import restore_to_time
from cloudbackup.dburl import DbSettings
from cloudbackup.storage.local import LocalStorage
from tests.fixtures.compare import Snapshot, assert_snapshots_equal, snapshot
from tests.fixtures.mariadb import admin_connect, flavour
from tests.integration.pitr_helpers import next_second, run

pytestmark = pytest.mark.integration


@pytest.fixture
def scheduler(log_server: DbSettings) -> Iterator[None]:
    """The event scheduler off while the source is written (so the source never runs the event), its
    setting given back at the end."""
    with admin_connect(log_server) as conn, conn.cursor() as cur:
        cur.execute("SELECT @@GLOBAL.event_scheduler")
        (was,) = cur.fetchone()
        cur.execute("SET GLOBAL event_scheduler = OFF")
    yield
    run(log_server, f"SET GLOBAL event_scheduler = {was}")


def backed_up_log_database(
    log_server: DbSettings, make_log_database: Callable[[str], str], tmp_path: Path, stem: str
) -> tuple[str, LocalStorage]:
    """A database holding an empty `log` table the events write to, and a store with its backup."""
    db = make_log_database(stem)
    run(log_server, f"CREATE TABLE `{db}`.log (id INT AUTO_INCREMENT PRIMARY KEY, what VARCHAR(20))")
    store = LocalStorage(tmp_path / "store")
    backup_database(log_server, db, store, source="src")
    return db, store


def archived_past_now(
    log_server: DbSettings, db: str, store: LocalStorage, after: str
) -> tuple[Snapshot, datetime]:
    """(the database as it is now, a time just after now), once `after` has run past that time and the
    binary log is archived to it."""
    at_time = snapshot(log_server, db)
    to_time = next_second()
    run(log_server, after)
    archive_binlog(log_server, store, "src")
    return at_time, to_time


@pytest.mark.parametrize("in_place", [False, True], ids=["new-target", "in-place"])
def test_an_event_made_due_and_disabled_before_the_time_does_not_run_when_published(
    log_server, make_log_database, tmp_path, scheduler, in_place
):
    # Given a backup, then an event made enabled and due at once (EVERY without STARTS), then disabled,
    # and another made enabled (not due for years) and renamed
    db, store = backed_up_log_database(log_server, make_log_database, tmp_path, "evdis")
    run(
        log_server,
        "CREATE EVENT due ON SCHEDULE EVERY 1 HOUR DO INSERT INTO log (what) VALUES ('ran')",
        "ALTER EVENT due DISABLE",
        "CREATE EVENT later ON SCHEDULE EVERY 1 DAY STARTS '2036-01-01 00:00:00' DO DELETE FROM log",
        "ALTER EVENT later RENAME TO renamed COMMENT 'still enabled'",
        database=db,
    )
    at_time, to_time = archived_past_now(
        log_server, db, store, f"INSERT INTO `{db}`.log (what) VALUES ('after T')"
    )
    # When it is restored to T on a server whose event scheduler runs
    run(log_server, "SET GLOBAL event_scheduler = ON")
    target = db if in_place else make_log_database("evdis_t")
    restore_to_time(
        log_server, [store], db, to_time, target_database=None if in_place else target, in_place=in_place
    )
    time.sleep(2)  # what the scheduler would run, it has run by now
    # Then the first event is disabled and never ran (the table is as at T: empty), the other enabled
    assert_snapshots_equal(at_time, snapshot(log_server, target))


def test_an_event_made_with_create_or_replace_is_published_and_never_runs_in_staging(
    log_server, make_log_database, tmp_path, scheduler
):
    if flavour(log_server) != "mariadb":
        pytest.skip("CREATE OR REPLACE EVENT is MariaDB's")
    # Given a backup, then an event made with CREATE OR REPLACE (not due for years), and one made, due at
    # once, then replaced by a disabled one
    db, store = backed_up_log_database(log_server, make_log_database, tmp_path, "evrep")
    run(
        log_server,
        "CREATE OR REPLACE EVENT later ON SCHEDULE EVERY 1 DAY STARTS '2036-01-01' DO DELETE FROM log",
        "CREATE EVENT due ON SCHEDULE EVERY 1 HOUR DO INSERT INTO log (what) VALUES ('ran')",
        "CREATE OR REPLACE EVENT due ON SCHEDULE EVERY 1 HOUR DISABLE DO INSERT INTO log (what) VALUES ('x')",
        database=db,
    )
    at_time, to_time = archived_past_now(
        log_server, db, store, f"INSERT INTO `{db}`.log (what) VALUES ('after T')"
    )
    # When it is restored to T on a server whose event scheduler runs
    run(log_server, "SET GLOBAL event_scheduler = ON")
    target = make_log_database("evrep_t")
    restore_to_time(log_server, [store], db, to_time, target_database=target)
    time.sleep(2)
    # Then both events are as at T, and the due one never ran
    assert_snapshots_equal(at_time, snapshot(log_server, target))


def test_an_event_made_again_if_not_exists_keeps_the_status_it_had(log_server, make_log_database, tmp_path):
    # Given a backup holding a disabled event, then a migration making it again IF NOT EXISTS (nothing
    # done: it exists), and a new event made the same way
    db = make_log_database("evine")
    made = "ON SCHEDULE EVERY 1 DAY STARTS '2036-01-01' DO DELETE FROM log"
    run(
        log_server,
        "CREATE TABLE log (id INT PRIMARY KEY)",
        f"CREATE EVENT old {made}",
        "ALTER EVENT old DISABLE",
        database=db,
    )
    store = LocalStorage(tmp_path / "store")
    backup_database(log_server, db, store, source="src")
    run(
        log_server,
        f"CREATE EVENT IF NOT EXISTS old {made}",
        f"CREATE EVENT IF NOT EXISTS new {made}",
        database=db,
    )
    at_time, to_time = archived_past_now(log_server, db, store, f"INSERT INTO `{db}`.log VALUES (1)")
    # When it is restored to T
    target = make_log_database("evine_t")
    restore_to_time(log_server, [store], db, to_time, target_database=target)
    # Then the old event is still disabled and the new one enabled, as at T
    assert_snapshots_equal(at_time, snapshot(log_server, target))


def test_an_event_that_ran_on_the_source_when_made_does_not_run_again_when_published(
    log_server, make_log_database, tmp_path, scheduler
):
    # Given a backup, then, with the scheduler on, an hourly event made (it runs at once: one row)
    db = make_log_database("evran")
    run(log_server, f"CREATE TABLE `{db}`.log (id INT AUTO_INCREMENT PRIMARY KEY)")
    store = LocalStorage(tmp_path / "store")
    backup_database(log_server, db, store, source="src")
    run(log_server, "SET GLOBAL event_scheduler = ON")
    run(log_server, "CREATE EVENT hourly ON SCHEDULE EVERY 1 HOUR DO INSERT INTO log VALUES ()", database=db)
    time.sleep(2)
    at_time, to_time = archived_past_now(log_server, db, store, f"INSERT INTO `{db}`.log VALUES ()")
    # When it is restored to T, the scheduler still on
    target = make_log_database("evran_t")
    restore_to_time(log_server, [store], db, to_time, target_database=target)
    time.sleep(2)
    # Then the event is enabled and its one run is there (replayed), not a second one at publish
    assert_snapshots_equal(at_time, snapshot(log_server, target))


def test_an_event_named_in_a_latin1_session_is_published_enabled_under_its_name(
    log_server, make_log_database, tmp_path, scheduler
):
    # Given a backup, then from a latin1 session an event with a name outside ASCII made enabled (not
    # due for years): its statement is logged in latin1, bytes that are not UTF-8
    db = make_log_database("evlatin")
    store = LocalStorage(tmp_path / "store")
    backup_database(log_server, db, store, source="src")
    with admin_connect(log_server, db) as conn, conn.cursor() as cur:
        cur.execute("SET NAMES latin1")
        made = "CREATE EVENT `\xe9t\xe9` ON SCHEDULE EVERY 1 DAY STARTS '2036-01-01 00:00:00' DO SET @a = 1"
        cur.execute(made.encode("latin1"))
    at_time, to_time = archived_past_now(log_server, db, store, f"CREATE TABLE `{db}`.later (a INT)")
    # When it is restored to a time after it
    target = make_log_database("evlatin_t")
    restore_to_time(log_server, [store], db, to_time, target_database=target)
    # Then the event is there under its own name, enabled, as at that time
    assert_snapshots_equal(at_time, snapshot(log_server, target))
