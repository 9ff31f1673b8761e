"""A held CREATE/ALTER EVENT made to leave its event disabled, and the status it would have set."""

from __future__ import annotations

import pytest

from cloudbackup.binlog.event_status import read_event_statement

DEFINER = b"CREATE DEFINER=`root`@`localhost` EVENT "


@pytest.mark.parametrize(
    ("text", "verb", "status", "disabled"),
    [
        (
            DEFINER + b"e ON SCHEDULE EVERY 1 HOUR DO INSERT INTO t VALUES ('ENABLE DO')",
            "CREATE",
            "ENABLE",
            DEFINER + b"e ON SCHEDULE EVERY 1 HOUR DISABLE DO INSERT INTO t VALUES ('ENABLE DO')",
        ),
        (  # the status goes before the comment, whose text is never read
            DEFINER + b"`enable` ON SCHEDULE EVERY 1 DAY COMMENT 'DO ENABLE' DO DELETE FROM t",
            "CREATE",
            "ENABLE",
            DEFINER + b"`enable` ON SCHEDULE EVERY 1 DAY DISABLE COMMENT 'DO ENABLE' DO DELETE FROM t",
        ),
        (  # an event named like the keyword
            b"CREATE EVENT enable ON SCHEDULE EVERY 1 DAY ENABLE DO DELETE FROM t",
            "CREATE",
            "ENABLE",
            b"CREATE EVENT enable ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM t",
        ),
        (
            b"ALTER EVENT e /* ENABLE */ ENABLE",
            "ALTER",
            "ENABLE",
            b"ALTER EVENT e /* ENABLE */ DISABLE",
        ),
        (
            b"ALTER EVENT e COMMENT 'x' DO DELETE FROM t",
            "ALTER",
            None,
            b"ALTER EVENT e COMMENT 'x' DO DELETE FROM t",
        ),
        (b"ALTER EVENT e DISABLE ON SLAVE", "ALTER", "DISABLE ON SLAVE", b"ALTER EVENT e DISABLE ON SLAVE"),
        (
            b"CREATE EVENT e ON SCHEDULE AT '2036-01-01' DISABLE DO SET @a = 1",
            "CREATE",
            "DISABLE",
            b"CREATE EVENT e ON SCHEDULE AT '2036-01-01' DISABLE DO SET @a = 1",
        ),
    ],
)
def test_the_status_is_read_and_the_statement_leaves_its_event_disabled(text, verb, status, disabled):
    change = read_event_statement(text, verb, escapes=True)
    assert (change.status, change.disabled) == (status, disabled)


@pytest.mark.parametrize(
    ("text", "renamed_to"),
    [
        (b"ALTER EVENT e RENAME TO f", "f"),
        (b"ALTER EVENT `db`.e RENAME TO `db`.`New Name` ENABLE", "new name"),
        (b"ALTER EVENT e COMMENT 'RENAME TO g'", None),
    ],
)
def test_a_rename_is_read(text, renamed_to):
    assert read_event_statement(text, "ALTER", escapes=True).renamed_to == renamed_to


def test_if_not_exists_is_read():
    assert read_event_statement(
        b"CREATE EVENT IF NOT EXISTS e ON SCHEDULE EVERY 1 DAY DO SET @a = 1", "CREATE", True
    ).if_not_exists
    assert not read_event_statement(
        b"CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO SET @a = 1", "CREATE", True
    ).if_not_exists


def test_strings_are_read_in_the_sql_mode_the_statement_was_logged_in():
    # Under NO_BACKSLASH_ESCAPES the backslash ends nothing: the string is 'a\', then the body
    text = b"CREATE EVENT e ON SCHEDULE EVERY 1 DAY COMMENT 'a\\' DO SET @s = 'ENABLE'"
    change = read_event_statement(text, "CREATE", escapes=False)
    assert (
        change.disabled
        == b"CREATE EVENT e ON SCHEDULE EVERY 1 DAY DISABLE COMMENT 'a\\' DO SET @s = 'ENABLE'"
    )
