"""Schema sections over the real server: they reload through the stock client, exactly, on any session.

Rows are not part of these sections (the table frames add them); these round trips compare definitions,
AUTO_INCREMENT, sequence state, trigger order and the database defaults.
"""

import subprocess
import uuid
from dataclasses import asdict, replace

import pytest

from cloudbackup.errors import OperationError
from cloudbackup.mysql import objects, views
from cloudbackup.mysql.connection import connect
from tests.fixtures.compare import assert_databases_equal
from tests.fixtures.mariadb import admin_connect, mysql_client_args

SESSION_PROBE = (
    b"SELECT @@sql_mode, @@character_set_client, @@character_set_results, @@collation_connection, "
    b"@@time_zone, @@foreign_key_checks;\n"
)


def schema_dump(db_settings, database, **connect_options):
    """Every schema section of `database`, in frame order, through a dump-like session."""
    conn = connect(db_settings, database=database, **connect_options)
    try:
        with conn.cursor() as cur:
            cur.execute("SET time_zone = '+00:00'")
            found = objects.list_objects(cur, database)
            parts = [objects.sequence_section(cur, s) for s in found.sequences]
            for table in found.tables:
                parts += [objects.table_ddl(cur, table), objects.table_triggers(cur, table)]
            parts += [
                objects.routines_section(cur, found.routines),
                objects.views_section(cur, found.views),
                objects.events_section(cur, found.events),
            ]
        return found, b"".join(parts)
    finally:
        conn.close()


def load_with_stock_client(db_settings, database, sql):
    done = subprocess.run(
        [*mysql_client_args(db_settings), "--batch", "--skip-column-names", database],
        input=sql,
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout.decode()


def empty_like(db_settings, make_database, found):
    """A new database with the source's default character set and collation (as a restore makes it)."""
    target = make_database("objects")
    with admin_connect(db_settings, target) as conn, conn.cursor() as cur:
        cur.execute(f"ALTER DATABASE `{target}` CHARACTER SET {found.charset} COLLATE {found.collation}")
    return target


@pytest.mark.parametrize("fixture", ["every_type_db", "sakila_db"])
def test_every_object_reloads_exactly_under_another_name(db_settings, make_database, request, fixture):
    # Given a source database and the schema sections of it
    source = request.getfixturevalue(fixture)
    found, sql = schema_dump(db_settings, source)
    target = empty_like(db_settings, make_database, found)
    # When the stock client loads them into a database of another name
    load_with_stock_client(db_settings, target, sql)
    # Then every object is as the server showed it in the source (names aside)
    assert_databases_equal(db_settings, source, target, rows=False)


def test_sections_reload_alike_on_a_hostile_session_over_themselves_and_leave_it_as_they_found_it(
    db_settings, make_database, every_type_db
):
    # Given a client session nothing like the dump's: ANSI quotes, no backslash escapes, strict zero-date
    # checks, latin1, another time zone, foreign key checks on
    found, sql = schema_dump(db_settings, every_type_db)
    target = empty_like(db_settings, make_database, found)
    hostile = (
        b"SET sql_mode = 'ANSI_QUOTES,NO_BACKSLASH_ESCAPES,STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE';\n"
        b"SET NAMES latin1; SET time_zone = '-05:00'; SET foreign_key_checks = 1;\n"
    )
    before = load_with_stock_client(db_settings, target, hostile + SESSION_PROBE)
    # When the sections load in it, twice (the second time over the first: everything is replaced),
    # and the session is probed again
    load_with_stock_client(db_settings, target, hostile + sql)
    after = load_with_stock_client(db_settings, target, hostile + sql + SESSION_PROBE)
    # Then the objects are exact and the session is back to what it was
    assert_databases_equal(db_settings, every_type_db, target, rows=False)
    assert after.splitlines()[-1] == before.splitlines()[-1]
    assert "ANSI_QUOTES" in before
    assert "latin1" in before
    assert "-05:00" in before


def test_the_dump_session_is_left_as_the_caller_set_it(db_settings, every_type_db):
    # Given a dump connection with its own session settings and str results
    conn = connect(db_settings, database=every_type_db)
    try:
        with conn.cursor() as cur:
            cur.execute("SET sql_mode = 'ANSI_QUOTES', character_set_results = utf8mb4, time_zone = '+00:00'")
            cur.execute("SELECT @@sql_mode, @@character_set_results, @@time_zone, @@character_set_client")
            before = cur.fetchone()
            # When every section is produced on it
            found = objects.list_objects(cur, every_type_db)
            for table in found.tables:
                objects.table_ddl(cur, table)
                objects.table_triggers(cur, table)
            objects.views_section(cur, found.views)
            objects.routines_section(cur, found.routines)
            objects.events_section(cur, found.events)
            # Then its settings and result decoding are unchanged
            cur.execute("SELECT @@sql_mode, @@character_set_results, @@time_zone, @@character_set_client")
            assert cur.fetchone() == before
            assert isinstance(before[0], str)
    finally:
        conn.close()


def test_list_objects_names_every_object_in_dump_order(db_settings, every_type_db, server_flavour):
    if server_flavour != "mariadb":
        pytest.skip("MariaDB's every-type schema")
    conn = connect(db_settings, database=every_type_db)
    try:
        with conn.cursor() as cur:
            found = objects.list_objects(cur, every_type_db)
    finally:
        conn.close()
    assert (found.charset, found.collation) == ("utf8mb4", "utf8mb4_unicode_ci")
    assert found.tables == sorted(found.tables)
    assert len(found.tables) == 30
    assert "odd `name` ; table" in found.tables
    assert found.system_versioned == {"versioned", "versioned_explicit"}
    assert found.sequences == ["seq_cycled", "seq_down", "seq_invoice", "seq_plain", "seq_restarted"]
    # views: each after the views it reads, whatever the names say
    assert found.views.index("z_view_base") < found.views.index("a_view_top")
    assert found.views.index("z_view_base") < found.views.index("m_view_middle")
    assert len(found.views) == 8
    # triggers: in the order they fire, which the server numbers per timing and event
    assert found.triggers["invoice"] == [
        "invoice_au",
        "invoice_bi_first",
        "invoice_bi_between",
        "invoice_bi_second",
    ]
    assert found.triggers["checked"] == ["checked_bu"]
    assert [(r.kind, r.name) for r in found.routines][-2:] == [
        ("PACKAGE", "pkg_math"),
        ("PACKAGE BODY", "pkg_math"),
    ]
    assert found.events == ["ev_at", "ev_commented", "ev_every", "ev_loose"]
    assert asdict(found.counts()) == {
        "tables": 30,
        "views": 8,
        "routines": 12,
        "triggers": 6,
        "events": 4,
        "sequences": 5,
    }


def test_sequences_come_back_with_their_next_value_where_setval_would_not(
    db_settings, make_database, every_type_db, server_flavour
):
    if server_flavour != "mariadb":
        pytest.skip("sequences are MariaDB's")
    # Given the every-type sequences (one restarted below its start, one cycled once)
    found, sql = schema_dump(db_settings, every_type_db)
    target = empty_like(db_settings, make_database, found)
    load_with_stock_client(db_settings, target, sql)
    # When the next values are drawn from the copy
    with admin_connect(db_settings, target) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT NEXTVAL(seq_restarted), NEXTVAL(seq_cycled), NEXTVAL(seq_plain), NEXTVAL(seq_down)"
        )
        drawn = cur.fetchone()
        cur.execute("SELECT cycle_count FROM seq_cycled")
        (rounds,) = cur.fetchone()
    # Then they continue the source's sequences (drawing from the read-only source is not allowed here:
    # the expected values are what the schema script left behind)
    assert drawn == (5, 3, 42, -3)
    assert rounds == 1


def test_views_in_a_cycle_reload_through_stand_ins(
    db_settings, make_database, every_type_db, monkeypatch, server_flavour
):
    if server_flavour != "mariadb":
        pytest.skip("MySQL refuses a CHECK OPTION view over a stand-in: no cycles there")
    # Given view dependencies with a cycle (z_view_base said to read a_view_top, which reads it), while
    # m_view_middle, WITH CHECK OPTION, reads z_view_base and so needs the real one first
    real = views.view_dependencies

    def with_a_cycle(cur, database, names):
        found = real(cur, database, names)
        found["z_view_base"].add("a_view_top")
        return found

    monkeypatch.setattr(views, "view_dependencies", with_a_cycle)
    found, sql = schema_dump(db_settings, every_type_db)
    assert b"CREATE OR REPLACE VIEW `z_view_base` AS SELECT 1 AS `id`" in sql  # a stand-in
    target = empty_like(db_settings, make_database, found)
    # When the sections load, Then every view is back as it was
    load_with_stock_client(db_settings, target, sql)
    assert_databases_equal(db_settings, every_type_db, target, rows=False)


def test_an_unbuffered_dump_cursor_gives_the_same_sections(db_settings, every_type_db):
    # Given the sections produced through a buffered cursor
    _, buffered = schema_dump(db_settings, every_type_db)
    # When they are produced through an unbuffered one (as a row-streaming dump may hold)
    _, unbuffered = schema_dump(db_settings, every_type_db, unbuffered=True)
    # Then they are the same bytes
    assert unbuffered == buffered


@pytest.fixture
def user_without_routine_bodies(db_settings, make_database):
    """A database with a function, and a user who may run it but not read its body."""
    database = make_database("hidden")
    user = f"cbt_u_{uuid.uuid4().hex[:8]}"
    with admin_connect(db_settings, database) as conn, conn.cursor() as cur:
        cur.execute("CREATE FUNCTION f_hidden() RETURNS INT DETERMINISTIC RETURN 1")
        cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'pw'")
        cur.execute(f"GRANT SELECT, EXECUTE, SHOW VIEW, TRIGGER, EVENT ON `{database}`.* TO '{user}'@'%'")
    try:
        yield database, replace(db_settings, user=user, password="pw")
    finally:
        with admin_connect(db_settings) as conn, conn.cursor() as cur:
            cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")


def test_a_routine_body_hidden_from_the_backup_user_is_an_error_not_a_gap(user_without_routine_bodies):
    # Given a backup user who sees a function but not its body
    database, settings = user_without_routine_bodies
    conn = connect(settings, database=database)
    try:
        with conn.cursor() as cur:
            found = objects.list_objects(cur, database)
            assert [r.name for r in found.routines] == ["f_hidden"]
            # When its section is written, Then the backup fails saying what to grant
            with pytest.raises(
                OperationError, match=r"cannot read the definition of function `f_hidden`.*grant"
            ):
                objects.routines_section(cur, found.routines)
    finally:
        conn.close()
