"""An account without SET USER/SUPER (as on RDS): DEFINER kept fails with advice; --definer current works
and names the objects that needed it."""

from __future__ import annotations

import dataclasses
import subprocess
import uuid

import pytest

from cloudbackup.errors import OperationError
from cloudbackup.restore import restore_backup, restore_dump_file
from tests.fixtures.mariadb import admin_connect, flavour, stock_tool_args
from tests.integration.restore_helpers import back_up, make_shop, schemas_like

pytestmark = pytest.mark.integration


@pytest.fixture
def restricted(db_settings):
    """A user with every privilege on cbt_% databases and no global ones. On a server writing a binary
    log, function creators are trusted, as an RDS parameter group must say for such a user (without it
    the restore is refused up front: test_restore_binlog_programs.py)."""
    user, password = f"cbt_r{uuid.uuid4().hex[:8]}", "restore-pw"
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
        cur.execute(f"GRANT ALL PRIVILEGES ON `cbt\\_%`.* TO '{user}'@'%'")
        cur.execute("SELECT @@GLOBAL.log_bin, @@GLOBAL.log_bin_trust_function_creators")
        binlog, trusted = cur.fetchone()
        if binlog and not trusted:
            cur.execute("SET GLOBAL log_bin_trust_function_creators = 1")
    yield dataclasses.replace(db_settings, user=user, password=password)
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")
        if binlog and not trusted:
            cur.execute("SET GLOBAL log_bin_trust_function_creators = 0")


def test_keep_fails_with_advice_and_current_rewrites(db_settings, restricted, make_database, tmp_path):
    # Given a backup whose trigger, view, function and event belong to root
    source = make_database("rf")
    make_shop(db_settings, source)
    entry = back_up(db_settings, source, tmp_path)
    target = source + "_copy"
    # When the restricted account restores it keeping the definers: it fails, saying what to do
    with pytest.raises(OperationError, match=r"DEFINER root@.*--definer current"):
        restore_backup(restricted, entry, target_database=target)
    assert schemas_like(db_settings, target) == []
    # When it rewrites them to itself instead: it works and names every object that needed it
    result = restore_backup(restricted, entry, target_database=target, definer="current")
    try:
        needed = " ".join(result.definers_rewritten)
        for name in ("trigger child_ai", "view", "function", "event"):
            assert name in needed, result.definers_rewritten
        with admin_connect(db_settings) as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT DISTINCT definer FROM information_schema.triggers WHERE trigger_schema = %s "
                "UNION SELECT DISTINCT definer FROM information_schema.views WHERE table_schema = %s "
                "UNION SELECT DISTINCT definer FROM information_schema.routines WHERE routine_schema = %s "
                "UNION SELECT DISTINCT definer FROM information_schema.events WHERE event_schema = %s",
                (target,) * 4,
            )
            assert {r[0] for r in cur.fetchall()} == {f"{restricted.user}@%"}
    finally:
        with admin_connect(db_settings) as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{target}`")


def grant_routine_reading(settings, user: str) -> None:
    """What the README asks of an in-place restore's account: reading the routines it replaces and
    (MySQL) whether their definers hold SYSTEM_USER."""
    with admin_connect(settings) as conn, conn.cursor() as cur:
        if flavour(settings) == "mysql":
            cur.execute(f"GRANT SHOW_ROUTINE ON *.* TO '{user}'@'%'")
            cur.execute(f"GRANT SELECT ON mysql.global_grants TO '{user}'@'%'")
            cur.execute(f"GRANT SELECT ON mysql.role_edges TO '{user}'@'%'")
        else:
            cur.execute(f"GRANT SELECT ON mysql.proc TO '{user}'@'%'")


def definers_in(settings, database: str) -> dict[str, str]:
    """Each trigger, view, routine and event of `database` with its definer."""
    with admin_connect(settings) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT CONCAT('trigger ', trigger_name), definer FROM information_schema.triggers "
            "WHERE trigger_schema = %s "
            "UNION ALL SELECT CONCAT('view ', table_name), definer FROM information_schema.views "
            "WHERE table_schema = %s "
            "UNION ALL SELECT CONCAT(LOWER(routine_type), ' ', routine_name), definer "
            "FROM information_schema.routines WHERE routine_schema = %s "
            "UNION ALL SELECT CONCAT('event ', event_name), definer FROM information_schema.events "
            "WHERE event_schema = %s",
            (database,) * 4,
        )
        return {str(name): str(definer) for name, definer in cur.fetchall()}


@pytest.fixture
def owner(db_settings):
    """The application's account, owning the objects: like every account on RDS, without SYSTEM_USER
    (MySQL lets only holders of SYSTEM_USER drop what such an account defined)."""
    user, password = f"cbt_o{uuid.uuid4().hex[:8]}", "owner-pw"
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
        cur.execute(f"GRANT ALL PRIVILEGES ON `cbt\\_%`.* TO '{user}'@'%'")
    yield dataclasses.replace(db_settings, user=user, password=password)
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")


def test_in_place_with_current_keeps_the_replaced_objects_as_the_restoring_user(
    db_settings, owner, restricted, make_database, tmp_path
):
    # Given a database whose trigger, view, function and event belong to the application's account,
    # and a backup of it
    source = make_database("rfi")
    make_shop(owner, source)
    entry = back_up(db_settings, source, tmp_path)
    replaced = definers_in(db_settings, source)
    # And an account that may read the routines it replaces (as the README asks) but set no other definer
    grant_routine_reading(db_settings, restricted.user)
    # When it restores the backup in place, rewriting definers to itself
    result = restore_backup(restricted, entry, in_place=True, definer="current")
    # Then the database is replaced whole, its objects the restoring user's
    me = f"{restricted.user}@%"
    assert definers_in(db_settings, source) == dict.fromkeys(replaced, me)
    # And the replaced objects are kept beside the previous tables, as the restoring user's too
    assert result.previous_tables_kept_in is not None
    assert definers_in(db_settings, result.previous_tables_kept_in) == dict.fromkeys(replaced, me)
    # And the rewritten copies are named with where they are
    kept_copies = [name for name in result.definers_rewritten if result.previous_tables_kept_in in name]
    assert len(kept_copies) == len(replaced), result.definers_rewritten


def test_in_place_by_an_account_that_cannot_read_the_replaced_routines_is_refused_before_any_change(
    db_settings, owner, restricted, make_database, tmp_path
):
    # Given a database with a function of the application's account, and a backup of it
    source = make_database("rfh")
    make_shop(owner, source)
    entry = back_up(db_settings, source, tmp_path)
    before = definers_in(db_settings, source)
    # When an account with every privilege on it but none to read others' routine bodies (the README's
    # restore user, without SHOW_ROUTINE / SELECT on mysql.proc) restores it in place
    with pytest.raises(OperationError) as refused:
        restore_backup(restricted, entry, in_place=True, definer="current")
    # Then it is refused before any change, in one line naming the routine and what to grant whom
    message = str(refused.value)
    assert "\n" not in message
    assert "refused before any change" in message, message
    for named in ("f_double", restricted.user, "SHOW_ROUTINE", "mysql.proc"):
        assert named in message, message
    assert "backup user" not in message, message
    # And the database is as it was, with no staging or kept copy left
    assert definers_in(db_settings, source) == before
    assert schemas_like(db_settings, source) == [source]


def assert_refused_before_any_change(settings, source: str, before: dict[str, str], refused) -> None:
    """A one-line refusal naming the view, its definer, the privilege and the way out, and `source` as it
    was: its objects' definers `before`, no new tables, no kept copy or staging database left."""
    message = str(refused.value)
    assert "\n" not in message
    for named in ("refused before any change", "view v_child", "root@", "SYSTEM_USER", "--target-database"):
        assert named in message, message
    assert definers_in(settings, source) == before
    assert schemas_like(settings, source) == [source]
    with admin_connect(settings) as conn, conn.cursor() as cur:
        cur.execute(f"SHOW TABLES FROM `{source}` LIKE '\\_\\_cb%'")
        assert cur.fetchall() == ()


def test_in_place_over_objects_of_a_system_user_is_refused_before_any_change(
    db_settings, restricted, make_database, tmp_path
):
    if flavour(db_settings) != "mysql":
        pytest.skip("SYSTEM_USER is MySQL's (8.0.16+): MariaDB lets the account replace them")
    # Given a database whose view, function and event were defined by an account holding SYSTEM_USER
    # (root), and a backup of it
    source = make_database("rfs")
    make_shop(db_settings, source)
    entry = back_up(db_settings, source, tmp_path)
    before = definers_in(db_settings, source)
    # When an account with the README's grants but without SYSTEM_USER, which MySQL lets drop none of
    # them, restores it in place, rewriting definers to itself
    grant_routine_reading(db_settings, restricted.user)
    with pytest.raises(OperationError) as refused:
        restore_backup(restricted, entry, in_place=True, definer="current")
    # Then it is refused before any change (not once the tables are swapped in), naming the view
    assert_refused_before_any_change(db_settings, source, before, refused)


def test_in_place_keeping_definers_over_a_view_a_system_user_redefined_is_refused_before_any_change(
    db_settings, owner, restricted, make_database, tmp_path
):
    if flavour(db_settings) != "mysql":
        pytest.skip("SYSTEM_USER is MySQL's (8.0.16+): MariaDB lets the account replace it")
    # Given a backup of a database whose objects are the application's account's, after which root
    # redefined its view
    source = make_database("rfw")
    make_shop(owner, source)
    entry = back_up(db_settings, source, tmp_path)
    with admin_connect(db_settings, source) as conn, conn.cursor() as cur:
        cur.execute(
            "CREATE OR REPLACE DEFINER = root@localhost VIEW v_child AS "
            "SELECT c.id, p.name FROM child c JOIN parent p ON p.id = c.pid"
        )
    before = definers_in(db_settings, source)
    # When an account that may set any definer, but holds no SYSTEM_USER, restores it in place keeping
    # the definers (the backup's objects it may create; root's view it may neither drop nor copy)
    grant_routine_reading(db_settings, restricted.user)
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        cur.execute(f"GRANT SET_ANY_DEFINER, ALLOW_NONEXISTENT_DEFINER ON *.* TO '{restricted.user}'@'%'")
    with pytest.raises(OperationError) as refused:
        restore_backup(restricted, entry, in_place=True)
    # Then it is refused before any change, naming root's view
    assert_refused_before_any_change(db_settings, source, before, refused)


def test_in_place_over_a_view_of_an_account_holding_system_user_through_a_role_is_refused(
    db_settings, owner, restricted, make_database, tmp_path
):
    if flavour(db_settings) != "mysql":
        pytest.skip("SYSTEM_USER is MySQL's (8.0.16+), and so are roles holding it")
    # Given a database whose objects belong to an account that holds SYSTEM_USER only through a role
    # (not active: MySQL counts it all the same), and a backup of it
    role = f"cbt_role{restricted.user[-8:]}"
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE ROLE '{role}'")
        cur.execute(f"GRANT SYSTEM_USER ON *.* TO '{role}'")
        cur.execute(f"GRANT '{role}' TO '{owner.user}'@'%'")
    try:
        source = make_database("rfr")
        make_shop(owner, source)
        entry = back_up(db_settings, source, tmp_path)
        before = definers_in(db_settings, source)
        # When an account with the README's grants, without SYSTEM_USER, restores it in place
        grant_routine_reading(db_settings, restricted.user)
        with pytest.raises(OperationError) as refused:
            restore_backup(restricted, entry, in_place=True, definer="current")
        # Then it is refused before any change, naming the view and its definer
        message = str(refused.value)
        for named in ("refused before any change", "view v_child", owner.user, "SYSTEM_USER"):
            assert named in message, message
        assert definers_in(db_settings, source) == before
        assert schemas_like(db_settings, source) == [source]
    finally:
        with admin_connect(db_settings) as conn, conn.cursor() as cur:
            cur.execute(f"DROP ROLE IF EXISTS '{role}'")


def test_in_place_by_an_account_that_cannot_read_whether_a_definer_holds_system_user_is_refused(
    db_settings, restricted, make_database, tmp_path
):
    if flavour(db_settings) != "mysql":
        pytest.skip("SYSTEM_USER is MySQL's (8.0.16+)")
    # Given a database whose view was defined by root, and a backup of it
    source = make_database("rfu")
    make_shop(db_settings, source)
    entry = back_up(db_settings, source, tmp_path)
    before = definers_in(db_settings, source)
    # When an account that may read the routines but not the grant tables restores it in place
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        cur.execute(f"GRANT SHOW_ROUTINE ON *.* TO '{restricted.user}'@'%'")
    with pytest.raises(OperationError) as refused:
        restore_backup(restricted, entry, in_place=True, definer="current")
    # Then it is refused before any change, saying what to grant
    message = str(refused.value)
    assert "\n" not in message
    for named in ("refused before any change", "view v_child", "mysql.global_grants", restricted.user):
        assert named in message, message
    assert definers_in(db_settings, source) == before
    assert schemas_like(db_settings, source) == [source]


def test_keep_by_an_account_that_may_not_set_the_definers_is_refused_before_any_change(
    db_settings, restricted, make_database, tmp_path
):
    # Given a backup whose view, function and event belong to root
    source = make_database("rfk")
    make_shop(db_settings, source)
    entry = back_up(db_settings, source, tmp_path)
    target = source + "_copy"
    # When an account without SET_ANY_DEFINER / SET USER / SUPER (RDS's) restores it keeping definers
    with pytest.raises(OperationError) as refused:
        restore_backup(restricted, entry, target_database=target)
    # Then it is refused before anything is created or loaded, in one line naming the objects, their
    # definer and the way out (not once the tables before them are loaded)
    message = str(refused.value)
    assert "\n" not in message
    for named in ("refused before any change", "function f_double", "view v_child", "DEFINER root@"):
        assert named in message, message
    assert "--definer current" in message, message
    assert schemas_like(db_settings, target) == []


def make_rows_with_a_trigger(settings, database: str) -> None:
    """A table with rows and a trigger, defined by `settings`' account, and one without: no routine, view
    or event."""
    with admin_connect(settings, database) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE other (id int primary key)")
        cur.execute("INSERT INTO other VALUES (1)")
        cur.execute("CREATE TABLE t (id int primary key, n int)")
        cur.execute("INSERT INTO t VALUES " + ", ".join(f"({i}, {i})" for i in range(1, 501)))
        cur.execute("CREATE TRIGGER t_bi BEFORE INSERT ON t FOR EACH ROW SET NEW.n = NEW.n * 2")


def test_keep_of_a_trigger_by_an_account_that_may_not_set_its_definer_is_refused_before_any_change(
    db_settings, restricted, make_database, tmp_path
):
    # Given a database whose only object with a definer is a trigger of root's, stored after its
    # table's rows, and a backup and a stock dump of it
    source = make_database("rft")
    make_rows_with_a_trigger(db_settings, source)
    entry = back_up(db_settings, source, tmp_path)
    dump = tmp_path / "dump.sql"
    dump.write_bytes(
        subprocess.run(
            [*stock_tool_args(db_settings, "mysqldump"), "--triggers", source],
            capture_output=True,
            check=True,
        ).stdout
    )
    target = source + "_copy"
    # When an account without SET_ANY_DEFINER / SET USER / SUPER restores either, keeping definers
    for restore in (
        lambda: restore_backup(restricted, entry, target_database=target),
        lambda: restore_dump_file(restricted, str(dump), target_database=target),
    ):
        with pytest.raises(OperationError) as refused:
            restore()
        # Then it is refused before any row is loaded, in one line naming the trigger, its definer and
        # the way out
        message = str(refused.value)
        assert "\n" not in message
        for named in ("refused before any change", "trigger t_bi", "DEFINER root@", "--definer current"):
            assert named in message, message
        assert schemas_like(db_settings, target) == []
    try:
        # And a restore of only the other table, which creates no trigger, is not refused
        restore_backup(restricted, entry, target_database=source + "_part", tables=["other"])
        assert definers_in(db_settings, source + "_part") == {}
        # And with --definer current it restores, the trigger the restoring user's
        restore_backup(restricted, entry, target_database=target, definer="current")
        assert definers_in(db_settings, target) == {"trigger t_bi": f"{restricted.user}@%"}
    finally:
        with admin_connect(db_settings) as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{target}`")


def test_keep_by_an_account_that_may_set_any_definer_keeps_the_application_definers(
    db_settings, owner, restricted, make_database, tmp_path
):
    # Given a backup whose trigger, view, function and event belong to the application's account
    source = make_database("rfa")
    make_shop(owner, source)
    entry = back_up(db_settings, source, tmp_path)
    backed_up = definers_in(db_settings, source)
    # And a restoring account that may set any definer (MySQL 8.2+: not one that does not exist, which
    # is ALLOW_NONEXISTENT_DEFINER's), without SUPER, and read the routines it publishes
    grant_routine_reading(db_settings, restricted.user)
    privilege = "SET_ANY_DEFINER" if flavour(db_settings) == "mysql" else "SET USER"
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        cur.execute(f"GRANT {privilege} ON *.* TO '{restricted.user}'@'%'")
    target = source + "_copy"
    try:
        # When it restores the backup into a new database keeping the definers
        restore_backup(restricted, entry, target_database=target)
        # Then every object is back with the application's account as its definer
        assert definers_in(db_settings, target) == backed_up
    finally:
        with admin_connect(db_settings) as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{target}`")


def test_in_place_of_a_table_keeping_definers_over_a_trigger_of_a_system_user_is_refused(
    db_settings, owner, restricted, make_database, tmp_path
):
    if flavour(db_settings) != "mysql":
        pytest.skip("SYSTEM_USER is MySQL's (8.0.16+): MariaDB lets the account copy the trigger")
    # Given a backup of a database whose objects are the application's account's, after which root
    # redefined the trigger of its table child
    source = make_database("rfg")
    make_shop(owner, source)
    entry = back_up(db_settings, source, tmp_path)
    with admin_connect(db_settings, source) as conn, conn.cursor() as cur:
        cur.execute("DROP TRIGGER child_ai")
        cur.execute(
            "CREATE DEFINER = root@localhost TRIGGER child_ai AFTER INSERT ON child FOR EACH ROW "
            "INSERT INTO audit (what) VALUES (CONCAT('child ', NEW.id))"
        )
    before = definers_in(db_settings, source)
    # When an account that may set any definer, but holds no SYSTEM_USER, restores child in place
    # keeping definers (the previous trigger's copy, root's, it may not create)
    grant_routine_reading(db_settings, restricted.user)
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        cur.execute(f"GRANT SET_ANY_DEFINER, ALLOW_NONEXISTENT_DEFINER ON *.* TO '{restricted.user}'@'%'")
    with pytest.raises(OperationError) as refused:
        restore_backup(restricted, entry, in_place=True, tables=["child"])
    # Then it is refused before any change, naming root's trigger
    message = str(refused.value)
    assert "\n" not in message
    for named in ("refused before any change", "trigger child_ai", "root@", "SYSTEM_USER"):
        assert named in message, message
    assert definers_in(db_settings, source) == before
    assert schemas_like(db_settings, source) == [source]
