"""Triggers, routines and events whose bodies name their own database (`db.log`) restore into any
target: the backup writes those names unqualified, and the restored objects act on the target's
tables. A body naming another database is still refused by every restore, and the backup says so."""

from __future__ import annotations

import logging
import subprocess
import sys
import uuid

import pytest

from cloudbackup.errors import OperationError
from cloudbackup.restore import restore_backup
from cloudbackup.verify import verify_backup
from tests.fixtures.compare import snapshot
from tests.fixtures.mariadb import admin_connect, run_sql
from tests.integration.restore_helpers import back_up, schemas_like

pytestmark = pytest.mark.integration


def probe(source: str) -> list[str]:
    """The probe's database: a trigger on t1 writing into log, all names qualified with `source`."""
    return [
        f"CREATE TABLE `{source}`.t1 (id int auto_increment primary key)",
        f"CREATE TABLE `{source}`.log (id int auto_increment primary key, t1id int, note varchar(40))",
        f"CREATE TRIGGER `{source}`.t1_ai AFTER INSERT ON `{source}`.t1 FOR EACH ROW "
        f"INSERT INTO {source}.log(t1id, note) VALUES (NEW.id, 'ins {source}.log') /* {source}.log */",
    ]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cloudbackup.cli.main", *args], capture_output=True, text=True, check=False
    )


def fetch(settings, sql: str, args=None) -> tuple:
    with admin_connect(settings) as conn, conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall()


def new_target(settings, make_database) -> str:
    target = make_database("ont")
    run_sql(settings, target, f"DROP DATABASE `{target}`")
    return target


def restored_elsewhere(settings, make_database, source: str, tmp_path, caplog) -> str:
    """Back `source` up, seeing no warning, and restore it into a new database: that database."""
    with caplog.at_level(logging.WARNING):
        entry = back_up(settings, source, tmp_path)
    assert caplog.records == []
    target = new_target(settings, make_database)
    restore_backup(settings, entry, target_database=target)
    return target


def test_a_trigger_naming_its_own_database_restores_into_the_target(
    db_settings, make_database, tmp_path, caplog
):
    # Given the probe's database
    source = make_database("ons")
    run_sql(db_settings, source, *probe(source))
    # When it is backed up (without a warning: nothing a restore would refuse) and restored elsewhere
    target = restored_elsewhere(db_settings, make_database, source, tmp_path, caplog)
    # Then the restored trigger writes into the target's log, never the source's
    run_sql(db_settings, target, "INSERT INTO t1 VALUES ()")
    assert fetch(db_settings, f"SELECT t1id, note FROM `{target}`.log") == ((1, f"ins {source}.log"),)
    assert fetch(db_settings, f"SELECT COUNT(*) FROM `{source}`.log") == ((0,),)
    # and the text in its string and its comment is kept byte for byte
    (statement,) = fetch(
        db_settings,
        "SELECT action_statement FROM information_schema.triggers WHERE trigger_schema = %s",
        (target,),
    )[0]
    assert statement == f"INSERT INTO log(t1id, note) VALUES (NEW.id, 'ins {source}.log') /* {source}.log */"


def test_an_in_place_restore_of_such_a_trigger_succeeds(db_settings, make_database, tmp_path):
    # Given a backup of the probe's database, and rows written after it
    source = make_database("oni")
    run_sql(db_settings, source, *probe(source))
    entry = back_up(db_settings, source, tmp_path)
    run_sql(db_settings, source, "INSERT INTO t1 VALUES ()")
    # When it is restored in place; Then the database is as backed up, and its trigger works
    restore_backup(db_settings, entry, in_place=True)
    assert fetch(db_settings, f"SELECT COUNT(*) FROM `{source}`.log") == ((0,),)
    run_sql(db_settings, source, "INSERT INTO t1 VALUES ()")
    assert fetch(db_settings, f"SELECT t1id FROM `{source}`.log") == ((1,),)


def test_a_routine_and_an_event_naming_their_own_database_restore_into_the_target(
    db_settings, make_database, tmp_path, caplog
):
    # Given a procedure and an event that name their own database's table
    source = make_database("onr")
    run_sql(
        db_settings,
        source,
        *probe(source)[:2],
        f"CREATE PROCEDURE `{source}`.add_log(n int) "
        f"BEGIN INSERT INTO `{source}`.`log`(t1id) VALUES (n); END",
        f"CREATE EVENT `{source}`.purge ON SCHEDULE EVERY 1 DAY DISABLE "
        f"DO DELETE FROM {source}.log WHERE note = '{source}.log'",
    )
    # When it is backed up (without a warning: nothing a restore would refuse) and restored elsewhere
    target = restored_elsewhere(db_settings, make_database, source, tmp_path, caplog)
    # Then the procedure writes into the target's log
    run_sql(db_settings, target, "CALL add_log(7)")
    assert fetch(db_settings, f"SELECT t1id FROM `{target}`.log") == ((7,),)
    assert fetch(db_settings, f"SELECT COUNT(*) FROM `{source}`.log") == ((0,),)
    # and the event acts on the target's table, its string as written
    assert fetch(
        db_settings,
        "SELECT event_definition FROM information_schema.events WHERE event_schema = %s",
        (target,),
    ) == ((f"DELETE FROM log WHERE note = '{source}.log'",),)


def test_a_body_naming_another_database_is_warned_of_and_still_refused(
    db_settings, make_database, tmp_path, caplog
):
    # Given a trigger writing into another database
    source, other = make_database("ono"), make_database("ooth")
    run_sql(db_settings, other, "CREATE TABLE log (t1id int)")
    run_sql(
        db_settings,
        source,
        "CREATE TABLE t1 (id int auto_increment primary key)",
        f"CREATE TRIGGER t1_ai AFTER INSERT ON t1 FOR EACH ROW INSERT INTO {other}.log VALUES (NEW.id)",
    )
    # When it is backed up; Then one line says which object every restore will refuse, and why
    with caplog.at_level(logging.WARNING):
        entry = back_up(db_settings, source, tmp_path)
    (warning,) = [r.getMessage() for r in caplog.records]
    assert "\n" not in warning
    assert f"trigger `t1_ai` of {source} names {other}.log, qualified with a database" in warning
    assert "every restore of this backup will refuse it" in warning
    # and verify and show say it too (the backup itself is intact: exit 0)
    said = warning.removesuffix(": every restore of this backup will refuse it as it is")
    assert verify_backup(entry).unrestorable == [said]
    for command in ("verify", "show"):
        done = cli(command, "--backup", entry.id, "--database", source, "--data", str(tmp_path / "data"))
        assert done.returncode == 0, done.stderr
        assert said in done.stdout + done.stderr
    # When it is restored; Then it is refused before anything changed
    run_sql(db_settings, other, "INSERT INTO log VALUES (0)")
    before = snapshot(db_settings, other)
    target = f"cbt_ont_{uuid.uuid4().hex[:8]}"
    with pytest.raises(OperationError, match=rf"refused, it names {other}\.log, qualified with a database"):
        restore_backup(db_settings, entry, target_database=target)
    assert schemas_like(db_settings, target) == []
    assert snapshot(db_settings, other) == before


def test_a_view_reading_another_database_is_warned_of(db_settings, make_database, tmp_path, caplog):
    # Given a view reading a table of another database
    source, other = make_database("onv"), make_database("ovth")
    run_sql(db_settings, other, "CREATE TABLE log (t1id int)")
    run_sql(db_settings, source, f"CREATE VIEW v AS SELECT t1id FROM `{other}`.log")
    # When it is backed up; Then one line names the view and the other database
    with caplog.at_level(logging.WARNING):
        back_up(db_settings, source, tmp_path)
    (warning,) = [r.getMessage() for r in caplog.records]
    assert f"view `v` of {source} names {other}.log" in warning


def test_a_procedure_calling_another_restores_and_calls_the_targets_own(
    db_settings, make_database, tmp_path, caplog
):
    # Given a procedure that calls another of its database (by name, and qualified with it)
    source = make_database("onc")
    run_sql(
        db_settings,
        source,
        *probe(source)[:2],
        f"CREATE PROCEDURE `{source}`.add_log(n int) BEGIN INSERT INTO log(t1id) VALUES (n); END",
        f"CREATE PROCEDURE `{source}`.add_two(n int) "
        f"BEGIN CALL add_log(n); CALL `{source}`.add_log(n + 1); END",
    )
    # When it is backed up (without a warning: nothing a restore would refuse) and restored elsewhere
    target = restored_elsewhere(db_settings, make_database, source, tmp_path, caplog)
    # Then calling it there calls the target's own procedure, which writes the target's log
    run_sql(db_settings, target, "CALL add_two(7)")
    assert fetch(db_settings, f"SELECT t1id FROM `{target}`.log ORDER BY t1id") == ((7,), (8,))
    assert fetch(db_settings, f"SELECT COUNT(*) FROM `{source}`.log") == ((0,),)
