"""What would fail (or escape) late in a restore is seen before anything changes: the quote modes a dump
sets are read the same while loading as before it, on MySQL too (whose server reports no ANSI_QUOTES)."""

from __future__ import annotations

import uuid

import pymysql
import pytest

from cloudbackup.dburl import parse_db_url
from cloudbackup.errors import OperationError
from cloudbackup.restore import restore_backup, restore_dump_file
from tests.fixtures.every_type import drop_database
from tests.fixtures.mariadb import SERVERS, TEST_DB_URL, admin_connect, flavour, run_sql
from tests.integration.restore_helpers import (
    back_up,
    drop_schemas_like,
    refused_before_any_change,
    schemas_like,
)

pytestmark = pytest.mark.integration

PREFIX = "platecheck_"


@pytest.fixture
def other(db_settings):
    """A live database a crafted dump would read."""
    name = f"{PREFIX}other_{uuid.uuid4().hex[:8]}"
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}`")
    run_sql(db_settings, name, "CREATE TABLE t (a int primary key)", "INSERT INTO t VALUES (7), (8)")
    yield name
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture
def target(db_settings):
    name = f"{PREFIX}{uuid.uuid4().hex[:8]}"
    yield name
    drop_schemas_like(db_settings, name)


def views_of(db_settings, database: str) -> dict[str, str]:
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT table_name, view_definition FROM information_schema.views WHERE table_schema = %s",
            (database,),
        )
        return {str(name): str(text) for name, text in cur.fetchall()}


def test_a_dump_under_ansi_quotes_loads_as_it_was_checked(db_settings, other, target, tmp_path):
    # Given a dump under ANSI_QUOTES whose view's alias "a\" is a whole name (a name holds no escapes):
    # the rest of its line is a comment, where a view reading the other database hides
    path = tmp_path / "ansi.sql"
    path.write_bytes(
        b"SET sql_mode = 'ANSI_QUOTES';\nCREATE TABLE t (a int primary key);\n"
        b'CREATE VIEW v1 AS SELECT 1 AS "a\\" # ";CREATE VIEW v2 AS SELECT a FROM "'
        + other.encode()
        + b'"."t";-- \n;\nINSERT INTO t VALUES (1);\n'
    )
    # When it is restored into a new database
    restore_dump_file(db_settings, str(path), target_database=target)
    # Then it loads as the check read it: the view v1 and nothing that reads the other database
    assert sorted(views_of(db_settings, target)) == ["v1"]


def server_takes(db_settings, variable: str, value: str) -> bool:
    """Whether a session on this server may set `variable` to `value`."""
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        try:
            cur.execute(f"SET SESSION {variable} = %s", (value,))
        except pymysql.MySQLError:
            return False
    return True


TRIGGER_UNDER_MYSQL_COLLATION = (
    b"/*!40101 SET NAMES utf8mb4 */;\n"
    b"CREATE TABLE t (a int primary key, b varchar(20)) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;\n"
    b"INSERT INTO t VALUES (1, 'x');\n"
    b"/*!50003 SET @saved_col_connection = @@collation_connection */ ;\n"
    b"/*!50003 SET collation_connection  = utf8mb4_0900_ai_ci */ ;\n"
    b"DELIMITER ;;\n"
    b"/*!50003 CREATE*/ /*!50003 TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.b = UPPER(NEW.b) */;;\n"
    b"DELIMITER ;\n"
    b"/*!50003 SET collation_connection  = @saved_col_connection */ ;\n"
)


EVENT_IN_NAMED_ZONE = (
    b"/*!40101 SET NAMES utf8mb4 */;\nCREATE TABLE t (a int primary key);\n"
    b"DELIMITER ;;\n"
    b"/*!50106 SET @save_time_zone= @@TIME_ZONE */ ;;\n"
    b"/*!50106 SET TIME_ZONE= 'Europe/Berlin' */ ;;\n"
    b"/*!50106 CREATE*/ /*!50106 EVENT e ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 03:00:00' "
    b"ON COMPLETION PRESERVE DISABLE DO DELETE FROM t */ ;;\n"
    b"/*!50106 SET TIME_ZONE= @save_time_zone */ ;;\n"
    b"DELIMITER ;\n"
)


@pytest.mark.parametrize(
    ("dump", "variable", "value", "named", "advice"),
    [
        # a mysqldump file whose trigger was created under MySQL's utf8mb4_0900_ai_ci
        (
            TRIGGER_UNDER_MYSQL_COLLATION,
            "collation_connection",
            "utf8mb4_0900_ai_ci",
            "collation_connection utf8mb4_0900_ai_ci (trigger tr)",
            "collations",
        ),
        # a mysqldump file whose event was created in the time zone Europe/Berlin
        (
            EVENT_IN_NAMED_ZONE,
            "time_zone",
            "Europe/Berlin",
            "time_zone Europe/Berlin (event e)",
            "mysql_tzinfo_to_sql",
        ),
    ],
    ids=["trigger_collation", "event_time_zone"],
)
def test_a_setting_the_server_lacks_is_refused_before_anything_changes(
    db_settings, target, tmp_path, dump, variable, value, named, advice
):
    # Given a dump file creating an object under a session setting
    path = tmp_path / "dump.sql"
    path.write_bytes(dump)
    if server_takes(db_settings, variable, value):
        # When it is restored on a server that has that setting, Then it loads whole
        restore_dump_file(db_settings, str(path), target_database=target)
        assert schemas_like(db_settings, target) == [target]
        return
    # When it is restored on one that has not (MariaDB 10.11's collations; a server without zone tables)
    with pytest.raises(OperationError) as refused:
        restore_dump_file(db_settings, str(path), target_database=target)
    # Then it is refused before anything changes, in one line naming the object, the setting and what to do
    message = refused_before_any_change(refused, db_settings, target)
    assert named in message
    assert advice in message


@pytest.mark.skipif("mysql" not in SERVERS, reason="CLOUDBACKUP_TEST_SERVERS does not name mysql")
def test_a_mysql_backup_whose_trigger_needs_a_mysql_collation_is_refused_by_mariadb_up_front(
    mysql_server, tmp_path
):
    # Given a MySQL backup of a portable table whose trigger was created under MySQL's default
    # connection collation (utf8mb4_0900_ai_ci), which MariaDB 10.11 lacks
    mysql = parse_db_url(mysql_server.url, environ={})
    mariadb = parse_db_url(TEST_DB_URL, environ={})
    source, target = f"{PREFIX}src_{uuid.uuid4().hex[:8]}", f"{PREFIX}{uuid.uuid4().hex[:8]}"
    try:
        with admin_connect(mysql) as conn, conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{source}` COLLATE utf8mb4_unicode_ci")
            cur.execute(f"USE `{source}`")
            cur.execute("SET NAMES utf8mb4 COLLATE utf8mb4_0900_ai_ci")
            cur.execute("CREATE TABLE t (a int primary key, b varchar(20))")
            cur.execute("INSERT INTO t VALUES (1, 'x')")
            cur.execute("CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.b = UPPER(NEW.b)")
        entry = back_up(mysql, source, tmp_path)
        # When it is restored into MariaDB
        with pytest.raises(OperationError) as refused:
            restore_backup(mariadb, entry, target_database=target)
        # Then it is refused before anything changes, in one line naming the trigger and the collation
        message = refused_before_any_change(refused, mariadb, target)
        assert "collation_connection utf8mb4_0900_ai_ci (trigger tr)" in message
    finally:
        drop_database(mysql, source)
        drop_database(mariadb, target)


def lower_case_table_names(db_settings) -> int:
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT @@lower_case_table_names")
        return int(cur.fetchone()[0])


def test_a_dump_file_whose_trigger_names_a_table_in_another_case_is_refused_where_names_keep_case(
    db_settings, target, tmp_path
):
    # Given a dump file made where table names fold (its tables in lower case) whose trigger writes into
    # `AuditLog`, and a server that compares table names with case
    if lower_case_table_names(db_settings):
        pytest.skip("this server compares table names without case")
    path = tmp_path / "folded.sql"
    path.write_bytes(
        b"CREATE TABLE auditlog (at int);\nCREATE TABLE t (a int primary key);\nDELIMITER ;;\n"
        b"CREATE TRIGGER tr AFTER INSERT ON t FOR EACH ROW INSERT INTO AuditLog VALUES (NEW.a);;\n"
        b"DELIMITER ;\n"
    )
    # When it is restored
    with pytest.raises(OperationError) as refused:
        restore_dump_file(db_settings, str(path), target_database=target)
    # Then it is refused before anything changes, in one line naming the trigger and the name
    message = refused_before_any_change(refused, db_settings, target)
    assert "trigger `tr` names `AuditLog` for table `auditlog`" in message


def test_a_dump_file_whose_trigger_names_its_own_table_of_two_alike_restores(db_settings, target, tmp_path):
    # Given a dump file from a server comparing names with case: tables `Log` and `log`, and a trigger
    # writing into `log` as it is named
    if lower_case_table_names(db_settings):
        pytest.skip("this server compares table names without case")
    path = tmp_path / "cased.sql"
    path.write_bytes(
        b"CREATE TABLE Log (at int);\nCREATE TABLE log (at int);\nCREATE TABLE t (a int primary key);\n"
        b"CREATE TRIGGER tr AFTER INSERT ON t FOR EACH ROW INSERT INTO log VALUES (NEW.a);\n"
    )
    # When it is restored, Then it loads, and the trigger writes where it did
    restore_dump_file(db_settings, str(path), target_database=target)
    run_sql(db_settings, target, "INSERT INTO t VALUES (5)")
    with admin_connect(db_settings, target) as conn, conn.cursor() as cur:
        cur.execute("SELECT (SELECT COUNT(*) FROM Log), (SELECT COUNT(*) FROM log)")
        assert cur.fetchone() == (0, 1)


@pytest.fixture
def ansi_quotes_by_default(db_settings):
    """The server's default sql_mode with ANSI_QUOTES, for the sessions opened meanwhile: only on the
    session's own MySQL (the machine's MariaDB is shared, its global settings stay as they are)."""
    if flavour(db_settings) != "mysql":
        pytest.skip("the shared MariaDB's global settings are not changed")
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT @@GLOBAL.sql_mode")
        (before,) = cur.fetchone()
        cur.execute("SET GLOBAL sql_mode = CONCAT(@@GLOBAL.sql_mode, ',ANSI_QUOTES')")
    try:
        yield
    finally:
        with admin_connect(db_settings) as conn, conn.cursor() as cur:
            cur.execute("SET GLOBAL sql_mode = %s", (before,))


def test_a_dump_loads_as_it_was_checked_under_a_server_default_of_ansi_quotes(
    db_settings, ansi_quotes_by_default, other, target, tmp_path
):
    # Given a server whose sessions start under ANSI_QUOTES, and a dump that sets no sql_mode, whose
    # view's alias "a\" is a whole name there, the rest of its line a comment hiding another view
    path = tmp_path / "default_ansi.sql"
    path.write_bytes(
        b'CREATE VIEW v1 AS SELECT 1 AS "a\\" # ";CREATE VIEW v2 AS SELECT a FROM "'
        + other.encode()
        + b'"."t";-- \n;\nCREATE TABLE t (a int primary key);\n'
    )
    # When it is restored into a new database
    restore_dump_file(db_settings, str(path), target_database=target)
    # Then it loads as the check read it: the view v1 and nothing that reads the other database
    assert sorted(views_of(db_settings, target)) == ["v1"]
