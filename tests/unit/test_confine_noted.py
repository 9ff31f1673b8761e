"""What the check before loading notes for the checks on the target before any change: the named session
settings a dump sets (with the object made under each), and what a plain file's CREATEs make."""

from __future__ import annotations

from cloudbackup.confine.check import Confinement
from cloudbackup.mysql.name_case import dump_name_case_references
from cloudbackup.mysql.splitter import Statement


def passed(*statements: bytes, runs: bool = True) -> Confinement:
    check = Confinement(
        where="f.sql", follow_sql_mode=True, runs=lambda opener: runs or not opener.startswith(b"/*M"),
        settings={}, made=[],
    )  # fmt: skip
    for number, sql in enumerate(statements, 1):
        check.check(Statement(number, number, sql))
    return check


def test_settings_are_noted_with_the_first_object_made_under_them():
    # Given a dump setting a collation and a time zone before its trigger and event
    check = passed(
        b"CREATE TABLE t (a int)",
        b"/*!50003 SET collation_connection  = utf8mb4_0900_ai_ci */",
        b"CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1",
        b"/*!50003 SET collation_connection  = @saved_col_connection */",
        b"SET time_zone = 'Europe/Berlin', sql_mode = ''",
        b"/*!50106 CREATE*/ /*!50106 EVENT `e` ON SCHEDULE EVERY 1 DAY DO DELETE FROM t */",
    )
    # Then each named value is noted with the object made under it; the variable putting it back is not
    assert check.settings == {
        ("collation_connection", "utf8mb4_0900_ai_ci"): "trigger tr",
        ("time_zone", "Europe/Berlin"): "event e",
    }


def test_settings_the_server_does_not_run_or_that_name_nothing_are_not_noted():
    # Given a SET in a comment MySQL skips, and SETs of NULL, DEFAULT and a variable
    check = passed(
        b"/*M!100000 SET collation_connection = utf8mb4_uca1400_ai_ci */",
        b"/*!40101 SET character_set_results = NULL */",
        b"SET collation_connection = DEFAULT",
        b"SET time_zone = @saved",
        runs=False,
    )
    # Then none is noted
    assert check.settings == {}


def test_names_collation_as_set_names_gives_it():
    check = passed(b"SET NAMES latin1 COLLATE latin1_german2_ci", b"CREATE VIEW v AS SELECT 1")
    assert check.settings == {
        ("character_set_client", "latin1"): "view v",
        ("collation_connection", "latin1_german2_ci"): "view v",
    }


def test_a_file_whose_program_names_a_table_in_another_case_is_found():
    # Given a file's tables and a trigger, a procedure and an event writing names in other cases
    check = passed(
        b"CREATE TABLE auditlog (a int)",
        b"CREATE TABLE Log (a int)",
        b"CREATE TABLE log (a int)",
        b"CREATE TABLE t (a int)",
        b"CREATE TRIGGER tr BEFORE UPDATE ON t FOR EACH ROW INSERT INTO AuditLog VALUES (NEW.a)",
        b"CREATE PROCEDURE p() BEGIN SELECT * FROM log; DELETE FROM LOG; END",
        b"CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO DELETE FROM Log",
    )
    # When its references are read
    found = dump_name_case_references(check.made or [])
    # Then each name no table has as written is found, with the table it means (of two alike, the
    # name written as one of them is its own), and the trigger's table
    assert [(r.kind, r.name, r.table, r.written, r.means) for r in found] == [
        ("trigger", "tr", "t", "AuditLog", "auditlog"),
        ("procedure", "p", "", "LOG", "Log"),
    ]
