"""Point-in-time restores into a server configured unlike the source: tables the replayed binlog
creates come back as they were at the time, as the backup's own tables do, or the restore refuses in
one line and publishes nothing.

Each test that changes a GLOBAL variable puts it back in a `finally` (server_global does)."""

from __future__ import annotations

import pytest

from cloudbackup.backup import backup_database
from cloudbackup.binlog.archive import archive_binlog
from cloudbackup.binlog.pitr import restore_to_time
from cloudbackup.errors import OperationError
from cloudbackup.storage.local import LocalStorage
from tests.fixtures.compare import assert_databases_equal
from tests.fixtures.mariadb import flavour
from tests.integration.pitr_helpers import next_second, reference_copy, run
from tests.integration.restore_helpers import restore_account, schemas_like, server_global

pytestmark = pytest.mark.integration


def test_a_keyless_table_created_after_the_backup_gains_no_invisible_key_in_the_replay(
    log_server, make_log_database, tmp_path
):
    if flavour(log_server) != "mysql":
        pytest.skip("sql_generate_invisible_primary_key is MySQL's (8.0.30+); MariaDB never adds a key")
    # Given a backup, then a table without a primary key created after it (in the archived binlog)
    db, ref = make_log_database("pgipk"), make_log_database("pgipk_r")
    store = LocalStorage(tmp_path / "store")
    run(log_server, f"CREATE TABLE `{db}`.item (id INT PRIMARY KEY)", f"INSERT INTO `{db}`.item VALUES (1)")
    backup_database(log_server, db, store, source="src")
    run(
        log_server,
        f"CREATE TABLE `{db}`.log (a INT, b VARCHAR(20))",
        f"INSERT INTO `{db}`.log VALUES (1, 'x')",
    )
    to_time = next_second()
    reference_copy(log_server, db, ref)
    archive_binlog(log_server, store, "src")
    # When it is restored to T on a server that gives such tables an invisible primary key (Azure's default)
    target = make_log_database("pgipk_t")
    with server_global(log_server, "sql_generate_invisible_primary_key", "ON"):
        restore_to_time(log_server, [store], db, to_time, target_database=target)
    # Then the table is as it was at T: no `my_row_id` column, its row and all
    assert_databases_equal(log_server, ref, target)


def test_timestamp_columns_created_after_the_backup_keep_their_defaults_in_the_replay(
    log_server, make_log_database, tmp_path
):
    # Given a backup, then TIMESTAMP columns declared NOT NULL without a default created after it
    db, ref = make_log_database("pedft"), make_log_database("pedft_r")
    store = LocalStorage(tmp_path / "store")
    run(log_server, f"CREATE TABLE `{db}`.item (id INT PRIMARY KEY)", f"INSERT INTO `{db}`.item VALUES (1)")
    backup_database(log_server, db, store, source="src")
    run(
        log_server,
        f"CREATE TABLE `{db}`.seen (id INT PRIMARY KEY, t TIMESTAMP NOT NULL, u TIMESTAMP NOT NULL)",
        f"INSERT INTO `{db}`.seen VALUES (1, '2020-01-01 00:00:00', '2021-01-01 00:00:00')",
    )
    to_time = next_second()
    reference_copy(log_server, db, ref)
    archive_binlog(log_server, store, "src")
    # When it is restored to T on a server with explicit_defaults_for_timestamp OFF (which would add
    # DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP to the first, a zero default to the second)
    target = make_log_database("pedft_t")
    with server_global(log_server, "explicit_defaults_for_timestamp", "OFF"):
        restore_to_time(log_server, [store], db, to_time, target_database=target)
    # Then the columns are as they were at T
    assert_databases_equal(log_server, ref, target)


def test_an_account_that_may_not_keep_the_shape_is_refused_before_the_replay_publishes(
    log_server, make_log_database, tmp_path
):
    if flavour(log_server) != "mysql":
        pytest.skip("sql_generate_invisible_primary_key is MySQL's (8.0.30+); MariaDB never adds a key")
    # Given a backup of a table with a primary key, then a keyless table created after it, and an
    # account without SESSION_VARIABLES_ADMIN
    db, other = make_log_database("pgipk_acct"), make_log_database("pgipk_acct_o")
    store = LocalStorage(tmp_path / "store")
    run(log_server, f"CREATE TABLE `{db}`.item (id INT PRIMARY KEY)", f"INSERT INTO `{db}`.item VALUES (1)")
    backup_database(log_server, db, store, source="src")
    run(log_server, f"CREATE TABLE `{db}`.log (a INT)")
    to_time = next_second()
    run(log_server, f"CREATE TABLE `{other}`.later (id INT PRIMARY KEY)")  # the archive reaches T
    archive_binlog(log_server, store, "src")
    target = db + "_t"
    # When it restores to T on a server that gives such tables an invisible primary key
    with (
        restore_account(log_server, target) as account,
        server_global(log_server, "sql_generate_invisible_primary_key", "ON"),
    ):
        run(log_server, f"GRANT BINLOG_ADMIN ON *.* TO '{account.user}'@'%'")  # every replay needs it
        with pytest.raises(OperationError) as refused:
            restore_to_time(account, [store], db, to_time, target_database=target)
    # Then it is refused in one line naming the setting and the privilege, and nothing was published
    message = str(refused.value)
    assert "\n" not in message
    assert "sql_generate_invisible_primary_key" in message
    assert "SESSION_VARIABLES_ADMIN" in message
    assert schemas_like(log_server, target) == []


def test_a_keyless_table_created_after_the_backup_is_named_where_the_server_requires_a_key(
    log_server, make_log_database, tmp_path
):
    if flavour(log_server) != "mysql":
        pytest.skip("sql_require_primary_key is MySQL's (8.0.13+)")
    # Given a backup, then a table without a primary key created after it (in the archived binlog)
    db = make_log_database("psrpk")
    store = LocalStorage(tmp_path / "store")
    run(log_server, f"CREATE TABLE `{db}`.item (id INT PRIMARY KEY)", f"INSERT INTO `{db}`.item VALUES (1)")
    backup_database(log_server, db, store, source="src")
    run(log_server, f"CREATE TABLE `{db}`.audit_log (a INT)", f"INSERT INTO `{db}`.audit_log VALUES (1)")
    to_time = next_second()
    run(log_server, f"INSERT INTO `{db}`.item VALUES (2)")  # the archive reaches past T
    archive_binlog(log_server, store, "src")
    # When it is restored to T on a server requiring a primary key on every table (DigitalOcean's default)
    target = make_log_database("psrpk_t")
    with (
        server_global(log_server, "sql_require_primary_key", "ON"),
        pytest.raises(OperationError) as refused,
    ):
        restore_to_time(log_server, [store], db, to_time, target_database=target)
    # Then one line names the table, the setting and the ways out, and nothing is published
    message = str(refused.value)
    assert "\n" not in message
    for named in ("audit_log", "sql_require_primary_key", "restore to a time before"):
        assert named in message, message
    assert schemas_like(log_server, target) == [target]
    assert schemas_like(log_server, target + "__") == []


def test_an_account_that_may_not_replay_the_binlog_is_refused_before_the_load(
    log_server, make_log_database, tmp_path
):
    # Given a backup, then rows written after it (in the archived binlog), and an account with every
    # privilege on the target but none to run BINLOG statements (the README's restore user)
    db, other = make_log_database("pbinadm"), make_log_database("pbinadm_o")
    store = LocalStorage(tmp_path / "store")
    run(log_server, f"CREATE TABLE `{db}`.item (id INT PRIMARY KEY)", f"INSERT INTO `{db}`.item VALUES (1)")
    backup_database(log_server, db, store, source="src")
    run(log_server, f"INSERT INTO `{db}`.item VALUES (2)")
    to_time = next_second()
    run(log_server, f"CREATE TABLE `{other}`.later (id INT PRIMARY KEY)")  # the archive reaches T
    archive_binlog(log_server, store, "src")
    target = db + "_t"
    with restore_account(log_server, target) as account:
        # When it asks for a dry run, and then for the restore to T
        for dry_run in (True, False):
            with pytest.raises(OperationError) as refused:
                restore_to_time(account, [store], db, to_time, target_database=target, dry_run=dry_run)
            # Then both are refused before any change, in one line naming the privilege to grant
            message = str(refused.value)
            assert "\n" not in message
            for named in ("before any change", account.user, "BINLOG_ADMIN", "BINLOG REPLAY"):
                assert named in message, message
            # And nothing was created: no target, no staging database
            assert schemas_like(log_server, target) == []


@pytest.mark.parametrize(
    ("name", "value", "only_on"),
    [
        ("autocommit", "0", None),
        # MariaDB's ORACLE mode, where BEGIN opens a block, not a transaction
        ("sql_mode", "'ORACLE'", "mariadb"),
    ],
    ids=["without autocommit", "in oracle mode"],
)
def test_a_server_whose_sessions_start_so_replays_the_binlog(
    log_server, make_log_database, tmp_path, name, value, only_on
):
    if only_on is not None and flavour(log_server) != only_on:
        pytest.skip(f"{name} {value} is {only_on}'s")
    # Given a backup, then rows written after it (in the archived binlog)
    db, ref, other = make_log_database("pses"), make_log_database("pses_r"), make_log_database("pses_o")
    store = LocalStorage(tmp_path / "store")
    run(log_server, f"CREATE TABLE `{db}`.item (id INT PRIMARY KEY)", f"INSERT INTO `{db}`.item VALUES (1)")
    backup_database(log_server, db, store, source="src")
    run(log_server, f"INSERT INTO `{db}`.item VALUES (2)", f"UPDATE `{db}`.item SET id = 3 WHERE id = 1")
    to_time = next_second()
    reference_copy(log_server, db, ref)
    run(log_server, f"CREATE TABLE `{other}`.later (id INT PRIMARY KEY)")  # the archive reaches T
    archive_binlog(log_server, store, "src")
    # When it is restored to T on a server whose sessions start with that global default
    target = make_log_database("pses_t")
    with server_global(log_server, name, value):
        restore_to_time(log_server, [store], db, to_time, target_database=target)
    # Then the database is as it was at T
    assert_databases_equal(log_server, ref, target)
