"""A backup without a table that kept tables' triggers or foreign keys name: the restore succeeded, then
the copy failed at first use (a trigger with error 1146, a child insert with 1452 on a parent that is
not there). Triggers naming what was left out are left out too, warned of and listed in the manifest
(as views are, test_backup_excluded_views.py); a table refers to by foreign key is refused up front."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pymysql
import pytest

from cloudbackup.backup import backup_database, check_exclusions
from cloudbackup.catalog import find_backup
from cloudbackup.drill.run import run_drill
from cloudbackup.errors import UsageError
from cloudbackup.restore import restore_backup
from cloudbackup.storage.local import LocalStorage
from tests.e2e.test_cli_restore import cli
from tests.fixtures.mariadb import admin_connect, db_url, run_sql
from tests.integration.drill_helpers import make_store_db

pytestmark = pytest.mark.integration


@pytest.fixture
def store_db(db_settings, make_database):
    """The drill's database (trigger item_ai on item writes into log), with a second trigger on tag that
    names nothing left out, and orders whose lines refer to them by foreign key."""
    source = make_database("xr")
    make_store_db(db_settings, source)
    run_sql(
        db_settings,
        source,
        "CREATE TRIGGER tag_bi BEFORE INSERT ON tag FOR EACH ROW SET NEW.note = CONCAT('log: ', NEW.note)",
        "CREATE TABLE orders (id INT PRIMARY KEY)",
        "CREATE TABLE order_line (id INT PRIMARY KEY, order_id INT, "
        "FOREIGN KEY (order_id) REFERENCES orders (id))",
        "CREATE TABLE line_note (id INT PRIMARY KEY, line INT, "
        "FOREIGN KEY (line) REFERENCES order_line (id))",
        "INSERT INTO orders VALUES (1)",
        "INSERT INTO order_line VALUES (1, 1)",
    )
    return source


def triggers_of(db_settings, database: str) -> set[str]:
    with admin_connect(db_settings, database) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s", (database,)
        )
        return {str(name) for (name,) in cur.fetchall()}


def test_a_backup_without_the_table_a_trigger_writes_to_leaves_the_trigger_out_and_the_copy_works(
    db_settings, store_db, make_database, tmp_path, caplog
):
    # Given a backup made without table log, which trigger item_ai of the kept table item writes to
    store = LocalStorage(tmp_path)
    with caplog.at_level(logging.WARNING):
        manifest = backup_database(db_settings, store_db, store, source="t", exclude_tables=["log"])
    entry = find_backup([store], manifest.id)
    # When it is restored whole into a new database, and drilled
    target = make_database("xrr")
    result = restore_backup(db_settings, entry, target_database=target)
    drilled = run_drill(db_settings, entry)
    # Then the copy takes a new item (no trigger failing on the missing log), with tag's trigger kept
    with admin_connect(db_settings, target) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO item (name) VALUES ('new')")
        cur.execute("INSERT INTO tag VALUES ('gamma', 'n')")
        cur.execute("SELECT note FROM tag WHERE name = 'gamma'")
        assert cur.fetchone()[0] == "log: n"
    assert triggers_of(db_settings, target) == {"tag_bi"}
    assert drilled.verified
    # and the manifest, the restore and the drill say the trigger was left out with the table
    assert (manifest.excluded_tables, manifest.excluded_triggers) == (["log"], ["item_ai"])
    assert manifest.counts.triggers == 1
    assert manifest.partial
    assert result.backup_excluded_triggers == ["item_ai"]
    assert drilled.excluded_triggers == ["item_ai"]
    # as the backup warned, in one line
    warned = [
        r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "item_ai" in r.getMessage()
    ]
    assert warned == [
        f"backup of `{store_db}` leaves out 1 trigger(s) naming the excluded tables (or views left out), "
        "which would fail at their first use without them: `item_ai`"
    ]


def test_every_command_says_which_triggers_a_backup_left_out(db_settings, store_db, make_database, tmp_path):
    # Given a backup made (by the command line) without table log, which trigger item_ai writes to
    data = ["--data", str(tmp_path / "data")]
    made = cli("backup", "--db-url", db_url(db_settings, store_db), "--exclude-table", "log", "--json", *data)
    assert made.returncode == 0, made.stderr
    (backed_up,) = json.loads(made.stdout)
    assert backed_up["excluded_triggers"] == ["item_ai"]
    assert "leaves out 1 trigger(s)" in made.stderr
    # When it is shown, verified, restored and drilled
    run, made_id = ["--db-url", db_url(db_settings)], backed_up["id"]
    target = make_database("xrc")
    said = {
        "show": cli("show", "--backup", made_id, *data),
        "verify": cli("verify", "--backup", made_id, *data),
        "restore": cli("restore", *run, "--backup", made_id, "--target-database", target, *data),
        "drill": cli("drill", *run, "--database", store_db, "--backup", made_id, *data),
    }
    # Then each succeeds and says what the copy lacks
    for command, done in said.items():
        assert done.returncode == 0, (command, done.stderr)
    assert (
        "tables left out: log; triggers left out (they name what was left out): item_ai"
        in said["show"].stdout
    )
    for command in ("verify", "restore", "drill"):
        assert "a partial backup: without tables log and triggers item_ai" in said[command].stdout, command


def test_a_backup_without_a_table_others_refer_to_by_foreign_key_is_refused_naming_what_to_add(
    db_settings, store_db, tmp_path
):
    store = LocalStorage(tmp_path)
    # When a backup without orders (order_line refers to it, line_note to order_line) is asked for
    with pytest.raises(UsageError) as up_front:
        check_exclusions(db_settings, [store_db], ["orders"])
    with pytest.raises(UsageError) as engine:
        backup_database(db_settings, store_db, store, source="t", exclude_tables=["orders"])
    # Then it is refused in one line naming the tables to leave out too, and nothing is written
    message = str(up_front.value)
    assert message == (
        f"--exclude-table orders: table(s) order_line, line_note of {store_db} refer to it by foreign key "
        "(directly or through each other), which a restore would leave pointing at no table: leave them out "
        "too (--exclude-table order_line --exclude-table line_note) or keep orders"
    )
    assert str(engine.value) == message
    assert not [p for p in Path(tmp_path).rglob("*") if p.is_file()]
    # and the command line refuses it as bad usage (exit 2)
    data = ["--data", str(tmp_path / "cli")]
    refused = cli("backup", "--db-url", db_url(db_settings, store_db), "--exclude-table", "orders", *data)
    assert refused.returncode == 2
    assert refused.stderr == f"cloudbackup: {message}\n"
    # When the tables named are left out too, Then the backup is made, and its copy takes new orders
    done = backup_database(
        db_settings, store_db, store, source="t", exclude_tables=["orders", "order_line", "line_note"]
    )
    assert done.excluded_tables == ["line_note", "order_line", "orders"]


def test_a_backup_without_a_child_table_keeps_its_parent_and_restores(
    db_settings, store_db, make_database, tmp_path
):
    # Given a backup without the child tables (a parent left without its children is whole)
    store = LocalStorage(tmp_path)
    manifest = backup_database(db_settings, store_db, store, source="t", exclude_tables=["line_note"])
    target = make_database("xrk")
    restore_backup(db_settings, find_backup([store], manifest.id), target_database=target)
    # Then order_line still refers to orders in the copy, which holds both
    with admin_connect(db_settings, target) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO order_line VALUES (2, 1)")
        with pytest.raises(pymysql.err.IntegrityError):
            cur.execute("INSERT INTO order_line VALUES (3, 99)")
    assert manifest.excluded_triggers == []


def test_a_routine_naming_an_excluded_table_is_kept_and_listed_and_a_trigger_calling_it_left_out(
    db_settings, store_db, make_database, tmp_path, caplog
):
    # Given a procedure writing into log, called by a trigger of the kept table orders
    run_sql(
        db_settings,
        store_db,
        "CREATE PROCEDURE p_log(x INT) INSERT INTO log VALUES (x, 'order')",
        "CREATE TRIGGER orders_ai AFTER INSERT ON orders FOR EACH ROW CALL p_log(NEW.id)",
    )
    # When it is backed up without log, and restored
    store = LocalStorage(tmp_path)
    with caplog.at_level(logging.WARNING):
        manifest = backup_database(db_settings, store_db, store, source="t", exclude_tables=["log"])
    target = make_database("xrp")
    result = restore_backup(db_settings, find_backup([store], manifest.id), target_database=target)
    # Then the trigger calling it is left out with item_ai, so the copy takes new orders
    assert manifest.excluded_triggers == ["item_ai", "orders_ai"]
    with admin_connect(db_settings, target) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO orders VALUES (2)")
    # and the procedure is kept (it may name log only on a path it rarely takes), warned of and listed
    assert manifest.programs_naming_excluded == ["procedure p_log"]
    assert result.backup_programs_naming_excluded == ["procedure p_log"]
    warned = [r.getMessage() for r in caplog.records if "p_log" in r.getMessage()]
    assert warned == [
        f"backup of `{store_db}` keeps the routines and events naming the excluded tables, which fail where "
        "they use them: procedure p_log"
    ]
