"""In-place restores: one atomic swap, the previous tables kept, and no half state when readers hold on."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest

from cloudbackup.errors import OperationError
from cloudbackup.mysql.staging import before_name, free_before_name
from cloudbackup.restore import restore_backup
from tests.fixtures.compare import assert_snapshots_equal, snapshot
from tests.fixtures.mariadb import admin_connect, flavour
from tests.integration.restore_helpers import back_up, change_live_data, make_shop, schemas_like

pytestmark = pytest.mark.integration


def rows(settings, sql):
    with admin_connect(settings) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


def test_in_place_restore_swaps_everything_and_keeps_the_previous_tables(
    db_settings, make_database, tmp_path
):
    # Given a backup, after which the live database changed (rows, a view dropped, a table, a trigger)
    source = make_database("rp")
    make_shop(db_settings, source)
    at_backup = snapshot(db_settings, source)
    entry = back_up(db_settings, source, tmp_path)
    change_live_data(db_settings, source)
    # When it is restored in place
    result = restore_backup(db_settings, entry, in_place=True, jobs=3)
    # Then the database is as it was at the backup, object for object
    assert_snapshots_equal(at_backup, snapshot(db_settings, source))
    # And the previous tables (with their triggers) are kept, the staging database is gone
    kept = result.previous_tables_kept_in
    assert kept is not None
    assert kept.startswith(source + "_before_")
    assert schemas_like(db_settings, source) == sorted([source, kept])
    assert rows(db_settings, f"SELECT note FROM `{kept}`.child WHERE id = 999999") == (("after the backup",),)
    assert rows(db_settings, f"SHOW TABLES FROM `{kept}` LIKE 'extra'") == (("extra",),)
    assert {r[0] for r in rows(db_settings, f"SHOW TRIGGERS FROM `{kept}`")} == {"child_ai", "parent_bu"}
    # And the restored sequence default points at the restored sequence (MariaDB: MySQL has none)
    if flavour(db_settings) != "mariadb":
        return
    with admin_connect(db_settings, source) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO parent (id, name) VALUES (5000, 'new')")
        cur.execute("SELECT n FROM parent WHERE id = 5000")
        assert cur.fetchone()[0] >= 10


def test_a_table_subset_in_place_swaps_only_those_tables(db_settings, make_database, tmp_path):
    source = make_database("rq")
    make_shop(db_settings, source)
    entry = back_up(db_settings, source, tmp_path)
    change_live_data(db_settings, source)
    restore_backup(db_settings, entry, in_place=True, tables=["child"])
    # child is back as at the backup (with its trigger); parent keeps its later change; extra stays
    assert rows(db_settings, f"SELECT COUNT(*) FROM `{source}`.child WHERE id = 999999") == ((0,),)
    assert rows(db_settings, f"SELECT name FROM `{source}`.parent WHERE id = 1") == (("CHANGED",),) or rows(
        db_settings, f"SELECT name FROM `{source}`.parent WHERE id = 1"
    ) == (("changed",),)
    assert rows(db_settings, f"SHOW TABLES FROM `{source}` LIKE 'extra'") == (("extra",),)
    assert {r[0] for r in rows(db_settings, f"SHOW TRIGGERS FROM `{source}`")} == {"child_ai", "parent_bu"}
    fk = rows(
        db_settings,
        "SELECT unique_constraint_schema FROM information_schema.referential_constraints "
        f"WHERE constraint_schema = '{source}' AND constraint_name = 'fk_child_parent'",
    )
    assert fk == ((source,),)


@pytest.mark.parametrize(
    ("hold", "tables"),
    [
        ("transaction", "child"),
        ("lock tables", "child READ, parent READ"),
        # audit has no trigger: the triggers of the other tables are dropped before the RENAME waits
        # on it, and must be put back when it gives up
        ("lock tables", "audit READ"),
    ],
)
def test_a_reader_holding_the_old_tables_makes_the_restore_fail_cleanly(
    db_settings, make_database, tmp_path, hold, tables
):
    # Given a live database that changed since the backup, and a session holding its tables open
    source = make_database("rl")
    make_shop(db_settings, source)
    entry = back_up(db_settings, source, tmp_path)
    change_live_data(db_settings, source)
    before = snapshot(db_settings, source)
    reader = admin_connect(db_settings, source)
    try:
        with reader.cursor() as cur:
            if hold == "transaction":
                cur.execute("START TRANSACTION")
                cur.execute(f"SELECT COUNT(*) FROM {tables}")
            else:
                cur.execute(f"LOCK TABLES {tables}")
        # When the in-place restore cannot get the tables within its lock wait timeout
        with pytest.raises(OperationError, match="Lock wait timeout"):
            restore_backup(db_settings, entry, in_place=True, lock_wait_timeout=2)
    finally:
        reader.close()
    # Then nothing changed: tables, rows, triggers, views; no staging and no _before_ copy left
    assert_snapshots_equal(before, snapshot(db_settings, source))
    assert schemas_like(db_settings, source) == [source]


def test_the_swap_waits_for_a_reader_that_finishes(db_settings, make_database, tmp_path):
    source = make_database("rw")
    make_shop(db_settings, source)
    at_backup = snapshot(db_settings, source)
    entry = back_up(db_settings, source, tmp_path)
    change_live_data(db_settings, source)
    reader = admin_connect(db_settings, source)
    with reader.cursor() as cur:
        cur.execute("START TRANSACTION")
        cur.execute("SELECT COUNT(*) FROM child")
        seen = cur.fetchone()[0]

    def finish_reading() -> None:
        time.sleep(2)
        with reader.cursor() as c:
            c.execute("SELECT COUNT(*) FROM child")  # the same snapshot, whatever the restore is doing
            assert c.fetchone()[0] == seen
        reader.commit()

    finisher = threading.Thread(target=finish_reading)
    finisher.start()
    try:
        restore_backup(db_settings, entry, in_place=True, lock_wait_timeout=30)
    finally:
        finisher.join()
        reader.close()
    assert_snapshots_equal(at_backup, snapshot(db_settings, source))


def test_the_kept_copy_of_a_subset_does_not_reference_the_live_tables(db_settings, make_database, tmp_path):
    source = make_database("rx")
    make_shop(db_settings, source)
    entry = back_up(db_settings, source, tmp_path)
    result = restore_backup(db_settings, entry, in_place=True, tables=["child"])
    kept = result.previous_tables_kept_in
    fk = rows(
        db_settings,
        "SELECT unique_constraint_schema FROM information_schema.referential_constraints "
        f"WHERE constraint_schema = '{kept}' AND constraint_name = 'fk_child_parent'",
    )
    assert fk == ((kept,),)  # an archive: dropping the live database later must not trip over it
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE `{source}`")


def test_live_tables_keep_referencing_a_restored_parent(db_settings, make_database, tmp_path):
    # Given a subset restore of a parent table only
    source = make_database("ry")
    make_shop(db_settings, source)
    entry = back_up(db_settings, source, tmp_path)
    restore_backup(db_settings, entry, in_place=True, tables=["parent"])
    # Then the child that stayed live still references the live parent, not the kept copy
    fk = rows(
        db_settings,
        "SELECT unique_constraint_schema FROM information_schema.referential_constraints "
        f"WHERE constraint_schema = '{source}' AND constraint_name = 'fk_child_parent'",
    )
    assert fk == ((source,),)


def test_a_second_in_place_restore_within_the_same_second_keeps_its_tables_beside_the_first(
    db_settings, make_database
):
    # Given the tables an in-place restore kept a moment ago, in `{db}_before_{this second}`
    name = make_database("bn")
    now = datetime.now(UTC)
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        first = free_before_name(cur, name, now)
        cur.execute(f"CREATE DATABASE `{first}`")
        try:
            # When another in-place restore of the database swaps within the same second
            second = free_before_name(cur, name, now)
        finally:
            cur.execute(f"DROP DATABASE `{first}`")
    # Then it keeps its tables in a name of its own, not failing on the first one's (error 1007)
    assert first == before_name(name, now)
    assert second == first + "_2"


def test_a_database_with_a_package_is_restored_in_place(db_settings, make_database, tmp_path):
    if flavour(db_settings) != "mariadb":
        pytest.skip("packages are MariaDB's (sql_mode ORACLE)")
    # Given a backup of a database holding a package (specification and body) and a view
    source = make_database("pkg")
    with admin_connect(db_settings, source) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE t (id INT PRIMARY KEY)")
        cur.execute("CREATE VIEW v AS SELECT id FROM t")
        cur.execute("SET sql_mode = 'ORACLE'")
        cur.execute("CREATE PACKAGE pkg AS FUNCTION twice(x INT) RETURN INT; END")
        cur.execute(
            "CREATE PACKAGE BODY pkg AS FUNCTION twice(x INT) RETURN INT AS BEGIN RETURN x * 2; END; END"
        )
    at_backup = snapshot(db_settings, source)
    entry = back_up(db_settings, source, tmp_path)
    # When it is restored in place (replacing the package it holds)
    restore_backup(db_settings, entry, in_place=True)
    # Then the database is as it was at the backup, package and view included
    assert_snapshots_equal(at_backup, snapshot(db_settings, source))
