"""Pure helpers of the schema-object dump: quoting, view order, sequence qualifiers, session wrappers."""

import pytest

from cloudbackup.errors import OperationError
from cloudbackup.format.manifest import ObjectCounts
from cloudbackup.mysql.identifiers import (
    quote_identifier,
    setting_literal,
    setting_name,
    unqualify_sequence_calls,
)
from cloudbackup.mysql.objects import DatabaseObjects, Routine
from cloudbackup.mysql.server_text import version_prepares_any_statement
from cloudbackup.mysql.session_text import object_settings, stored_program, string_literal, with_session
from cloudbackup.mysql.views import order_views, references


@pytest.mark.parametrize(
    ("name", "quoted"),
    [("t", "`t`"), ("odd `name` ; table", "`odd ``name`` ; table`"), ("`", "````"), ("ü 😀", "`ü 😀`")],
)
def test_identifiers_are_backquoted_with_backticks_doubled(name, quoted):
    assert quote_identifier(name) == quoted


def test_setting_values_are_quoted_plainly_and_anything_odd_is_refused():
    assert setting_literal("ANSI_QUOTES,NO_BACKSLASH_ESCAPES") == "'ANSI_QUOTES,NO_BACKSLASH_ESCAPES'"
    assert setting_literal("+02:00") == "'+02:00'"
    assert setting_literal("Europe/Berlin") == "'Europe/Berlin'"
    with pytest.raises(OperationError, match="unexpected session setting"):
        setting_literal("x'; DROP TABLE t; --")
    assert setting_name("utf8mb4_unicode_520_ci") == "utf8mb4_unicode_520_ci"
    with pytest.raises(OperationError, match="character set or collation"):
        setting_name("latin1; DROP")


def test_views_come_after_the_views_they_read_whatever_their_names():
    # Given a chain a <- m <- z (z reads nothing) and an independent view, plus a table dependency
    deps = {"a_top": {"m_mid", "invoice"}, "m_mid": {"z_base"}, "z_base": {"invoice"}, "b_free": set()}
    # When they are ordered
    order, stand_ins = order_views(deps)
    # Then each comes after what it reads, ties by name, and none needs a stand-in
    assert order == ["b_free", "z_base", "m_mid", "a_top"]
    assert stand_ins == set()


def test_views_in_a_cycle_get_stand_ins_and_views_reading_them_wait_for_all_of_it():
    # Given x and y reading each other, "after" reading x, a view reading itself, and a free one
    deps = {"x": {"y"}, "y": {"x", "t"}, "after": {"x"}, "free": set(), "self": {"self"}, "a": {"after"}}
    # When they are ordered
    order, stand_ins = order_views(deps)
    # Then only the cycle gets stand-ins, created together, and its readers come after all of it
    assert stand_ins == {"x", "y"}
    assert order == ["free", "self", "x", "y", "after", "a"]


def test_view_order_is_a_valid_order_for_a_large_graph():
    deps = {f"v{i:03}": {f"v{j:03}" for j in range(i) if (i * j) % 7 == 1} for i in range(200)}
    order, stand_ins = order_views(deps)
    assert stand_ins == set()
    assert sorted(order) == sorted(deps)
    position = {v: n for n, v in enumerate(order)}
    assert all(position[d] < position[v] for v, ds in deps.items() for d in ds)


def test_view_dependencies_are_the_names_read_from_the_same_database():
    # Given a definition as the server writes it: reads qualified, aliases and columns not
    definition = (
        "select `v`.`id` AS `z_view`,`db`.`a b`.`x` AS `x` from (`db`.`a b` join `db`.`odd ``q``` `v` "
        "on(`v`.`id` = `db`.`a b`.`id`)) join `other`.`t`"
    )
    # When its references are read, Then only what it reads from this database counts
    assert references(definition, "db") == {"a b", "odd `q`"}


@pytest.mark.parametrize(
    ("create", "expected"),
    [
        (
            b"`id` bigint(20) NOT NULL DEFAULT nextval(`shop`.`seq_invoice`),",
            b"`id` bigint(20) NOT NULL DEFAULT nextval(`seq_invoice`),",
        ),
        (b"DEFAULT NEXTVAL(`shop`.`s`)", b"DEFAULT NEXTVAL(`s`)"),
        (b"DEFAULT lastval(`shop`.`s`)", b"DEFAULT lastval(`s`)"),
        (b"DEFAULT nextval(`other`.`s`)", b"DEFAULT nextval(`other`.`s`)"),  # another database's stays
        (b"DEFAULT 'nextval(x)'", b"DEFAULT 'nextval(x)'"),
    ],
)
def test_sequence_defaults_lose_only_their_own_database_qualifier(create, expected):
    assert unqualify_sequence_calls(create, "shop") == expected


def test_a_database_name_with_a_backtick_is_matched_quoted():
    assert unqualify_sequence_calls(b"nextval(`a``b`.`s`)", "a`b") == b"nextval(`s`)"


def test_a_section_restores_every_session_variable_it_sets():
    # Given an object's session
    settings = {"sql_mode": "ANSI_QUOTES", "character_set_client": "latin1", "time_zone": "+02:00"}
    # When a statement is wrapped in it
    text = with_session(settings, b"CREATE X;\n").decode()
    lines = text.splitlines()
    # Then the caller's values are saved first, set, used, and put back last
    assert lines[0] == (
        "SET @cb_saved_sql_mode = @@sql_mode, @cb_saved_character_set_client = @@character_set_client, "
        "@cb_saved_time_zone = @@time_zone;"
    )
    assert lines[1] == "SET sql_mode = 'ANSI_QUOTES', character_set_client = latin1, time_zone = '+02:00';"
    assert lines[2] == "CREATE X;"
    assert lines[3] == (
        "SET sql_mode = @cb_saved_sql_mode, character_set_client = @cb_saved_character_set_client, "
        "time_zone = @cb_saved_time_zone;"
    )


def test_stored_programs_are_delimited_so_semicolons_and_trailing_comments_stay_inside():
    text = stored_program(b"CREATE TRIGGER t BEFORE INSERT ON x FOR EACH ROW BEGIN SET @a = 1; END -- done")
    assert text == (
        b"DELIMITER ;;\nCREATE TRIGGER t BEFORE INSERT ON x FOR EACH ROW BEGIN SET @a = 1; END -- done\n;;\n"
        b"DELIMITER ;\n"
    )


def test_a_program_with_comments_is_sent_as_a_string_the_client_cannot_strip():
    statement = b"CREATE PROCEDURE p() BEGIN -- it's\n SELECT 'a\\b'; /* x */ END"
    # Then comments travel inside a literal, quotes doubled and backslashes escaped for the sql_mode
    assert stored_program(statement, sql_mode="STRICT_TRANS_TABLES", execute_immediate=True) == (
        b"EXECUTE IMMEDIATE 'CREATE PROCEDURE p() BEGIN -- it''s\n SELECT ''a\\\\b''; /* x */ END';\n"
    )
    # And under NO_BACKSLASH_ESCAPES the backslash is a plain character
    assert string_literal(b"C:\\new\\", sql_mode="ANSI_QUOTES,NO_BACKSLASH_ESCAPES") == b"'C:\\new\\'"
    # And a program without comments, a server that cannot prepare it, or a charset with 0x5C trail bytes
    # keep DELIMITER
    assert stored_program(b"CREATE PROCEDURE p() SELECT 1", execute_immediate=True).startswith(
        b"DELIMITER ;;"
    )
    assert stored_program(statement, execute_immediate=False).startswith(b"DELIMITER ;;")
    assert stored_program(statement, charset="sjis", execute_immediate=True).startswith(b"DELIMITER ;;")


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("10.11.19-MariaDB-0+deb12u1", True),
        ("10.6.2-MariaDB", True),
        ("10.6.1-MariaDB-log", False),
        ("10.5.23-MariaDB", False),
        ("11.4.2-MariaDB", True),
        ("8.0.36", False),  # MySQL prepares no CREATE PROCEDURE
        ("5.5.5-10.11.6-MariaDB", False),  # an old proxy prefix: be conservative
    ],
)
def test_execute_immediate_only_where_the_server_prepares_any_statement(version, expected):
    assert version_prepares_any_statement(version) is expected


def test_object_settings_come_from_the_show_create_row():
    row = {
        "sql_mode": b"NO_BACKSLASH_ESCAPES",
        "character_set_client": b"latin1",
        "collation_connection": b"latin1_swedish_ci",
        "time_zone": b"SYSTEM",
    }
    assert object_settings(row) == {
        "sql_mode": "NO_BACKSLASH_ESCAPES",
        "character_set_client": "latin1",
        "character_set_results": "latin1",
        "collation_connection": "latin1_swedish_ci",
        "time_zone": "SYSTEM",
    }
    assert object_settings({**row, "sql_mode": b"x"}, sql_mode="")["sql_mode"] == ""


def test_object_counts_fill_the_manifest():
    found = DatabaseObjects(
        database="d",
        charset="utf8mb4",
        collation="utf8mb4_general_ci",
        tables=["a", "b", "v"],
        system_versioned=frozenset({"v"}),
        sequences=["s"],
        views=["x", "y"],
        routines=[Routine("FUNCTION", "f"), Routine("PACKAGE", "p"), Routine("PACKAGE BODY", "p")],
        triggers={"a": ["t1", "t2"], "b": ["t3"]},
        events=["e"],
    )
    assert found.counts() == ObjectCounts(tables=3, views=2, routines=3, triggers=3, events=1, sequences=1)
    assert found.is_system_versioned("v")
    assert not found.is_system_versioned("a")
