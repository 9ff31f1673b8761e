"""A backup writes stored programs without their own database's qualifier, where the name means the
same without it, so a restore (which refuses qualified names) can put them in any target. Text in
strings and comments is the program's data and documentation: kept byte for byte."""

import pytest

from cloudbackup.confine.check import refusal
from cloudbackup.mysql.qualifiers import unqualified_names
from cloudbackup.mysql.routines import own_names


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # the probe's trigger: a table with its column list is no function call
        (
            b"INSERT INTO pb_q.log(t1id) VALUES (NEW.id)",
            b"INSERT INTO log(t1id) VALUES (NEW.id)",
        ),
        # backquoted, spaced, three-part column names, sequences, procedures called
        (
            b"UPDATE `pb_q` . `log` SET pb_q.log.n = NEXTVAL(`pb_q`.s); CALL pb_q.p(1)",
            b"UPDATE  `log` SET log.n = NEXTVAL(s); CALL p(1)",
        ),
        # strings, comments and user variables hold no names
        (
            b"SET @pb_q.x = 'pb_q.log', @y = \"pb_q.log\"; -- pb_q.log\n# pb_q.log\n/* pb_q.log */ DO 1",
            b"SET @pb_q.x = 'pb_q.log', @y = \"pb_q.log\"; -- pb_q.log\n# pb_q.log\n/* pb_q.log */ DO 1",
        ),
        # an escaped quote does not end a string
        (
            b"INSERT INTO pb_q.log(note) VALUES ('it\\'s pb_q.log')",
            b"INSERT INTO log(note) VALUES ('it\\'s pb_q.log')",
        ),
        # a conditional comment is code
        (b"/*!50001 DELETE FROM pb_q.log */", b"/*!50001 DELETE FROM log */"),
        # another database, one whose name ends alike, a column named like it: as written
        (
            b"INSERT INTO other.log SELECT pb_q FROM xpb_q.t",
            b"INSERT INTO other.log SELECT pb_q FROM xpb_q.t",
        ),
        # a stored function called: unqualified, a native function or a UDF of its name would win
        (b"SET NEW.n = pb_q.format(NEW.n)", b"SET NEW.n = pb_q.format(NEW.n)"),
        (b"SET NEW.n = pb_q.pkg.f(NEW.n)", b"SET NEW.n = pb_q.pkg.f(NEW.n)"),
        # a table named new or old: unqualified, a trigger would read it as its row
        (b"SET NEW.n = (SELECT pb_q.new.n FROM pb_q.new)", b"SET NEW.n = (SELECT pb_q.new.n FROM new)"),
    ],
)
def test_only_names_of_the_own_database_lose_their_qualifier(body, expected):
    assert unqualified_names(body, "pb_q") == expected


def test_without_backslash_escapes_a_backslash_ends_no_string_early():
    body = b"INSERT INTO pb_q.log(note) VALUES ('a\\'), (pb_q.f()), ('pb_q.log')"
    assert unqualified_names(body, "pb_q", escapes=False) == (
        b"INSERT INTO log(note) VALUES ('a\\'), (pb_q.f()), ('pb_q.log')"
    )


def test_an_objects_own_sql_mode_decides_how_its_strings_read():
    # Given a trigger created under NO_BACKSLASH_ESCAPES, where 'a\' is a whole string
    statement = (
        b"CREATE TRIGGER tr AFTER INSERT ON t FOR EACH ROW INSERT INTO pb_q.log VALUES ('a\\', 'pb_q.x')"
    )
    settings = {"sql_mode": "STRICT_TRANS_TABLES,NO_BACKSLASH_ESCAPES", "character_set_client": "utf8mb4"}
    # When its names are unqualified; Then the second string is a string still
    assert own_names(statement, "pb_q", settings) == statement.replace(b"pb_q.log", b"log")


def test_text_in_a_charset_whose_multibyte_characters_hold_quotes_is_left_as_is():
    statement = b"CREATE TRIGGER tr AFTER INSERT ON t FOR EACH ROW INSERT INTO pb_q.log VALUES ('\x95\\')"
    assert own_names(statement, "pb_q", {"sql_mode": "", "character_set_client": "sjis"}) == statement


def test_what_a_restore_refuses_is_said_at_backup():
    create = b"CREATE TRIGGER tr AFTER INSERT ON t FOR EACH ROW INSERT INTO pb_o.log VALUES (NEW.id)"
    assert refusal(create, "pb_q", {"pb_q", "pb_o"}, "") == (
        "names pb_o.log, qualified with a database; a restore only changes its target"
    )
    assert refusal(unqualified_names(create.replace(b"pb_o", b"pb_q"), "pb_q"), "pb_q", {"pb_q"}, "") is None
