"""Backups of a server configured to hide part of a table from its clients: what the server holds
is backed up all the same, and restores as it was.

Each test that changes a GLOBAL variable puts it back (server_global does)."""

from __future__ import annotations

import pytest

from cloudbackup.restore import restore_backup
from tests.fixtures.compare import assert_snapshots_equal, snapshot
from tests.fixtures.mariadb import admin_connect, flavour, run_sql
from tests.integration.restore_helpers import back_up, server_global

pytestmark = pytest.mark.integration


def test_a_generated_invisible_primary_key_is_backed_up_where_the_server_hides_it(
    db_settings, make_database, tmp_path
):
    if flavour(db_settings) != "mysql":
        pytest.skip("generated invisible primary keys are MySQL's (8.0.30+)")
    # Given a table that got a generated invisible primary key (`my_row_id`), on a server whose
    # show_gipk_in_create_table_and_information_schema is OFF (SHOW CREATE and the column lists omit it)
    source = make_database("hidegipk")
    run_sql(
        db_settings,
        source,
        "SET SESSION sql_generate_invisible_primary_key = ON",
        "CREATE TABLE log (a INT, b VARCHAR(20))",
        "INSERT INTO log (a, b) VALUES (1, 'x'), (2, 'y'), (2, 'y')",
        "DELETE FROM log WHERE a = 1",
    )
    # When it is backed up there, and restored
    with server_global(db_settings, "show_gipk_in_create_table_and_information_schema", "OFF"):
        entry = back_up(db_settings, source, tmp_path)
    target = source + "_copy"
    restore_backup(db_settings, entry, target_database=target)
    # Then the table comes back with its key and the key's values (the binlog's row events name them,
    # which a point-in-time replay applies to it)
    assert_snapshots_equal(snapshot(db_settings, source), snapshot(db_settings, target))
    with admin_connect(db_settings, target) as conn, conn.cursor() as cur:
        cur.execute("SELECT my_row_id, a FROM log ORDER BY my_row_id")
        assert cur.fetchall() == ((2, 2), (3, 2))


def test_tables_come_back_without_a_row_format_they_were_not_given_where_the_server_shows_it(
    db_settings, make_database, tmp_path
):
    if flavour(db_settings) != "mysql":
        pytest.skip("show_create_table_verbosity is MySQL's")
    # Given a table that names no ROW_FORMAT (it follows the server's innodb_default_row_format), on a
    # server whose show_create_table_verbosity is ON (SHOW CREATE then names the row format it has)
    source = make_database("verbose")
    run_sql(
        db_settings, source, "CREATE TABLE item (id INT PRIMARY KEY, v INT)", "INSERT INTO item VALUES (1, 2)"
    )
    # When it is backed up there, and restored
    with server_global(db_settings, "show_create_table_verbosity", "ON"):
        entry = back_up(db_settings, source, tmp_path)
    target = source + "_copy"
    restore_backup(db_settings, entry, target_database=target)
    # Then the restored table names no ROW_FORMAT either: its SHOW CREATE is the source's
    assert_snapshots_equal(snapshot(db_settings, source), snapshot(db_settings, target))


def test_every_row_and_table_is_backed_up_where_the_server_caps_what_a_select_returns(
    db_settings, make_database, tmp_path
):
    # Given three tables, one keyed by text with ten rows, on a server whose sessions start with
    # sql_select_limit = 2 (a guard against runaway queries, set server-wide)
    source = make_database("selectlimit")
    run_sql(
        db_settings,
        source,
        "CREATE TABLE tag (k VARCHAR(10) PRIMARY KEY, n INT)",
        "INSERT INTO tag VALUES " + ", ".join(f"('k{i}', {i})" for i in range(10)),
        "CREATE TABLE a (id INT PRIMARY KEY)",
        "CREATE TABLE b (id INT PRIMARY KEY)",
        "INSERT INTO a VALUES (1), (2), (3)",
    )
    # When it is backed up there, and restored there
    target = source + "_copy"
    with server_global(db_settings, "sql_select_limit", "2"):
        entry = back_up(db_settings, source, tmp_path)
        restore_backup(db_settings, entry, target_database=target)
    # Then every table and row is there (the cap cut a table's rows short without a word)
    assert_snapshots_equal(snapshot(db_settings, source), snapshot(db_settings, target))
