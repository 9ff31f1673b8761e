"""Point-in-time restores of tables that a source session created under its own table-shaping settings
(explicit_defaults_for_timestamp OFF, a legacy application's; MySQL's default_collation_for_utf8mb4):
the binlog logs those settings with the statement, and the replay creates the tables under them, so
they come back as they were at the time whatever the restoring session's own values. innodb_strict_mode
is not logged: a table it would refuse was made without it, and is made so again."""

from __future__ import annotations

import pytest

from cloudbackup.backup import backup_database
from cloudbackup.binlog.archive import archive_binlog
from cloudbackup.binlog.pitr import restore_to_time
from cloudbackup.storage.local import LocalStorage
from tests.fixtures.compare import assert_databases_equal, assert_snapshots_equal, snapshot
from tests.fixtures.mariadb import flavour
from tests.integration.pitr_helpers import next_second, reference_copy, run
from tests.integration.restore_helpers import restore_account

pytestmark = pytest.mark.integration


def test_timestamp_columns_made_by_a_session_without_explicit_defaults_keep_its_defaults(
    log_server, make_log_database, tmp_path
):
    # Given a backup, then a session with explicit_defaults_for_timestamp OFF creating a table whose
    # first TIMESTAMP column so gets DEFAULT CURRENT_TIMESTAMP ON UPDATE …, adding one, writing rows
    db, ref = make_log_database("plgts"), make_log_database("plgts_r")
    store = LocalStorage(tmp_path / "store")
    run(log_server, f"CREATE TABLE `{db}`.item (id INT PRIMARY KEY)", f"INSERT INTO `{db}`.item VALUES (1)")
    backup_database(log_server, db, store, source="src")
    run(
        log_server,
        "SET SESSION explicit_defaults_for_timestamp = OFF",
        "CREATE TABLE seen (id INT PRIMARY KEY, t TIMESTAMP, u TIMESTAMP DEFAULT '2000-01-01 00:00:00')",
        "INSERT INTO seen (id) VALUES (1)",
        "ALTER TABLE item ADD COLUMN at TIMESTAMP DEFAULT '2001-01-01 00:00:00'",
        "INSERT INTO item (id) VALUES (2)",
        database=db,
    )
    to_time = next_second()
    reference_copy(log_server, db, ref)
    archive_binlog(log_server, store, "src")
    # When it is restored to T by a session of the server's defaults (explicit_defaults_for_timestamp ON)
    target = make_log_database("plgts_t")
    restore_to_time(log_server, [store], db, to_time, target_database=target)
    # Then the columns are NOT NULL with the defaults they were given at the time, and the rows the same
    assert_databases_equal(log_server, ref, target)


def test_a_bare_utf8mb4_of_a_session_with_another_default_collation_keeps_that_collation(
    log_server, make_log_database, tmp_path
):
    if flavour(log_server) != "mysql":
        pytest.skip("default_collation_for_utf8mb4 is MySQL's (8.0.11+)")
    # Given a backup, then a session with default_collation_for_utf8mb4 = utf8mb4_general_ci (a 5.7
    # application's) creating a table as CHARSET utf8mb4, which so gets utf8mb4_general_ci
    db, ref = make_log_database("plgcol"), make_log_database("plgcol_r")
    store = LocalStorage(tmp_path / "store")
    run(log_server, f"CREATE TABLE `{db}`.item (id INT PRIMARY KEY)")
    backup_database(log_server, db, store, source="src")
    run(
        log_server,
        "SET SESSION default_collation_for_utf8mb4 = utf8mb4_general_ci",
        "CREATE TABLE label (id INT PRIMARY KEY, name VARCHAR(20)) CHARSET utf8mb4",
        "INSERT INTO label VALUES (1, 'a'), (2, 'B')",
        database=db,
    )
    to_time = next_second()
    reference_copy(log_server, db, ref)
    archive_binlog(log_server, store, "src")
    # When it is restored to T
    target = make_log_database("plgcol_t")
    restore_to_time(log_server, [store], db, to_time, target_database=target)
    # Then the table has the collation it had then (not the server's utf8mb4_0900_ai_ci)
    assert_databases_equal(log_server, ref, target)


def test_a_table_made_without_innodb_strict_mode_after_the_backup_is_made_again_in_the_replay(
    log_server, make_log_database, tmp_path
):
    # Given a backup, then a session with innodb_strict_mode OFF creating a table whose rows may outgrow
    # a page (which the binlog does not record: the replaying server, strict as shipped, refuses it)
    db = make_log_database("plgstrict")
    store = LocalStorage(tmp_path / "store")
    run(log_server, f"CREATE TABLE `{db}`.item (id INT PRIMARY KEY)")
    backup_database(log_server, db, store, source="src")
    run(
        log_server,
        "SET SESSION innodb_strict_mode = OFF",
        "CREATE TABLE wide (id INT PRIMARY KEY, "
        + ", ".join(f"c{i} VARCHAR(255)" for i in range(40))
        + ") ROW_FORMAT=COMPACT CHARSET latin1",
        "INSERT INTO wide (id, c1) VALUES (1, 'a')",
        database=db,
    )
    to_time = next_second()
    at_time = snapshot(log_server, db)  # (a copy made on this server would be refused as the replay was)
    run(log_server, f"CREATE TABLE `{make_log_database('plgstrict_o')}`.after_t (id INT PRIMARY KEY)")
    archive_binlog(log_server, store, "src")
    # When it is restored to T
    target = make_log_database("plgstrict_t")
    restore_to_time(log_server, [store], db, to_time, target_database=target)
    # Then the table is there as it was at T
    assert_snapshots_equal(at_time, snapshot(log_server, target))


def test_an_account_without_session_variables_admin_replays_them_as_logged(
    log_server, make_log_database, tmp_path
):
    if flavour(log_server) != "mysql":
        pytest.skip("SESSION_VARIABLES_ADMIN is MySQL's")
    # Given a backup, then a table made by a session with explicit_defaults_for_timestamp OFF, and an
    # account without SESSION_VARIABLES_ADMIN (MySQL 8.0.18+ lets any session set it)
    db, ref = make_log_database("plgacct"), make_log_database("plgacct_r")
    store = LocalStorage(tmp_path / "store")
    run(log_server, f"CREATE TABLE `{db}`.item (id INT PRIMARY KEY)")
    backup_database(log_server, db, store, source="src")
    run(
        log_server,
        "SET SESSION explicit_defaults_for_timestamp = OFF",
        "CREATE TABLE seen (id INT PRIMARY KEY, t TIMESTAMP)",
        database=db,
    )
    to_time = next_second()
    reference_copy(log_server, db, ref)
    archive_binlog(log_server, store, "src")
    target = db + "_t"
    # When it restores to T
    with restore_account(log_server, target) as account:
        run(log_server, f"GRANT BINLOG_ADMIN ON *.* TO '{account.user}'@'%'")  # every replay needs it
        restore_to_time(account, [store], db, to_time, target_database=target)
    # Then the table is as it was at T
    try:
        assert_databases_equal(log_server, ref, target)
    finally:
        run(log_server, f"DROP DATABASE IF EXISTS `{target}`")
