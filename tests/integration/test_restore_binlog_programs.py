"""Restoring onto a server that writes a binary log: stored functions and triggers have rules there.

Without log_bin_trust_function_creators, only an account with SUPER may create functions and triggers
(RDS and Aurora never grant it), and a function must be declared DETERMINISTIC, NO SQL or READS SQL
DATA. A restore says so in one line before it changes anything; with the variable set, an account
without SUPER, SET_ANY_DEFINER or SET_USER_ID restores everything as itself with `--definer current`.
"""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from cloudbackup.errors import OperationError
from cloudbackup.restore import restore_backup
from tests.fixtures.mariadb import admin_connect
from tests.integration.restore_helpers import back_up, schemas_like

pytestmark = pytest.mark.integration

PROGRAMS = [
    "CREATE TABLE item (id int primary key, n int)",
    "CREATE TABLE audit (id int auto_increment primary key, what varchar(50))",
    "CREATE TRIGGER item_ai AFTER INSERT ON item FOR EACH ROW INSERT INTO audit (what) VALUES (NEW.id)",
    "CREATE FUNCTION f_double(x int) RETURNS int DETERMINISTIC RETURN x * 2",
    "CREATE VIEW v_item AS SELECT id, f_double(n) AS twice FROM item",
    "CREATE PROCEDURE p_count() SELECT COUNT(*) FROM item",
    "INSERT INTO item VALUES (1, 10), (2, 20)",
]


@pytest.fixture
def binlog_server(db_settings):
    """The server under test, which must write a binary log (MySQL's does, as RDS does)."""
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT @@GLOBAL.log_bin, @@GLOBAL.log_bin_trust_function_creators")
        log_bin, trusted = cur.fetchone()
    if not log_bin:
        pytest.skip("this server writes no binary log")
    assert not trusted, "the test server must start with log_bin_trust_function_creators off"
    return db_settings


@pytest.fixture
def restricted(binlog_server):
    """An account as RDS gives: every privilege on cbt_% databases, no SUPER, no SET_ANY_DEFINER."""
    user, password = f"cbt_r{uuid.uuid4().hex[:8]}", "restore-pw"
    with admin_connect(binlog_server) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
        cur.execute(f"GRANT ALL PRIVILEGES ON `cbt\\_%`.* TO '{user}'@'%'")
    yield dataclasses.replace(binlog_server, user=user, password=password)
    with admin_connect(binlog_server) as conn, conn.cursor() as cur:
        cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")


@pytest.fixture
def trusted_function_creators(binlog_server):
    """log_bin_trust_function_creators on for the test (as an RDS parameter group sets it)."""
    with admin_connect(binlog_server) as conn, conn.cursor() as cur:
        cur.execute("SET GLOBAL log_bin_trust_function_creators = 1")
    yield
    with admin_connect(binlog_server) as conn, conn.cursor() as cur:
        cur.execute("SET GLOBAL log_bin_trust_function_creators = 0")


def make_programs(settings, database, *extra):
    with admin_connect(settings, database) as conn, conn.cursor() as cur:
        for sql in (*PROGRAMS, *extra):
            cur.execute(sql)


def test_an_account_without_super_is_told_what_to_do_before_anything_changes(
    binlog_server, restricted, make_database, tmp_path
):
    # Given a backup holding a trigger and a function
    source = make_database("bl")
    make_programs(binlog_server, source)
    entry = back_up(binlog_server, source, tmp_path)
    target = source + "_copy"
    # When an account without SUPER restores it onto the binlogging server
    with pytest.raises(OperationError) as refused:
        restore_backup(restricted, entry, target_database=target, definer="current")
    # Then one line says why and what to do, and nothing was created
    message = str(refused.value)
    assert "\n" not in message
    assert f"into {target} refused before any change: binary logging is on" in message
    assert "1 function(s) and 1 trigger(s)" in message
    assert "set log_bin_trust_function_creators=1" in message
    assert schemas_like(binlog_server, target) == []


def test_with_trusted_creators_definer_current_restores_as_the_restricted_account(
    binlog_server, restricted, trusted_function_creators, make_database, tmp_path
):
    # Given a backup whose trigger, function, view and procedure belong to the administrator
    source = make_database("bl")
    make_programs(binlog_server, source)
    entry = back_up(binlog_server, source, tmp_path)
    target = source + "_copy"
    # When the account without SUPER/SET_ANY_DEFINER restores it with --definer current
    try:
        result = restore_backup(restricted, entry, target_database=target, definer="current")
        # Then every object is there, owned by that account, and the trigger fires
        assert len(result.definers_rewritten) == 4
        with admin_connect(binlog_server, target) as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT definer FROM information_schema.triggers WHERE trigger_schema = %s "
                "UNION SELECT definer FROM information_schema.views WHERE table_schema = %s "
                "UNION SELECT definer FROM information_schema.routines WHERE routine_schema = %s",
                (target,) * 3,
            )
            assert {r[0] for r in cur.fetchall()} == {f"{restricted.user}@%"}
            cur.execute("SELECT twice FROM v_item ORDER BY id")
            assert [r[0] for r in cur.fetchall()] == [20, 40]
            cur.execute("INSERT INTO item VALUES (3, 30)")
            cur.execute("SELECT what FROM audit")
            assert [r[0] for r in cur.fetchall()] == ["1", "2", "3"]
    finally:
        with admin_connect(binlog_server) as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{target}`")


def test_a_function_the_binlog_cannot_replay_is_named_before_anything_changes(
    binlog_server, make_database, tmp_path
):
    # Given a backup with a function declared MODIFIES SQL DATA (made while creators were trusted)
    source = make_database("bl")
    make_programs(binlog_server, source)
    with admin_connect(binlog_server, source) as conn, conn.cursor() as cur:
        cur.execute("SET GLOBAL log_bin_trust_function_creators = 1")
        try:
            cur.execute("CREATE FUNCTION f_bump() RETURNS int MODIFIES SQL DATA RETURN 1")
        finally:
            cur.execute("SET GLOBAL log_bin_trust_function_creators = 0")
    entry = back_up(binlog_server, source, tmp_path)
    target = source + "_copy"
    # When even the administrator restores it onto the binlogging server
    with pytest.raises(OperationError) as refused:
        restore_backup(binlog_server, entry, target_database=target)
    # Then the function is named with what to do, and nothing was created
    message = str(refused.value)
    assert "function(s) f_bump are declared neither DETERMINISTIC, NO SQL nor READS SQL DATA" in message
    assert "log_bin_trust_function_creators=1" in message
    assert schemas_like(binlog_server, target) == []
