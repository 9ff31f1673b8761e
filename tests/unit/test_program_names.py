"""The names a trigger's body is written with (mysql/program_names.py), and the manifest's
`excluded_triggers`, which only extends format 1."""

from __future__ import annotations

import json

from cloudbackup.format.manifest import Manifest
from cloudbackup.mysql.foreign_keys import children_left_behind
from cloudbackup.mysql.name_case import tables_named
from cloudbackup.mysql.program_names import names_written
from tests.unit.test_manifest_excluded_views import a_manifest


def test_names_are_read_outside_strings_and_comments_and_not_the_rows_columns():
    # Given a trigger body naming log in a string, a comment and a column of the row, and audit for real
    body = b"BEGIN INSERT INTO `audit` (at) VALUES (NEW.log); SET @x = 'log'; /* log */ -- log\nEND"
    # When its names are read, Then only what names a table (or a column) as code is there
    names = names_written(body, "STRICT_TRANS_TABLES")
    assert names is not None
    assert "audit" in names
    assert "log" not in names


def test_double_quotes_name_under_ansi_quotes_and_a_body_that_cannot_be_read_is_none():
    assert "Log" in (names_written(b'INSERT INTO "Log" VALUES (1)', "ANSI") or [])
    assert "Log" not in (names_written(b'SET @x = "Log"', "") or [])
    assert names_written(b"INSERT INTO `log VALUES (1)", "") is None


def test_the_tables_to_leave_out_with_a_parent_follow_foreign_keys_through_each_other():
    refs = {"line": {"orders"}, "note": {"line"}, "tree": {"tree"}, "other": {"customer"}}
    assert children_left_behind(refs, ["orders"]) == ["line", "note"]
    assert children_left_behind(refs, ["tree", "note"]) == []


def test_an_older_manifest_leaves_out_no_trigger_and_the_field_reads_back():
    written = a_manifest(excluded_tables=["log"], excluded_triggers=["item_ai"])
    assert Manifest.from_json(written.to_json()).excluded_triggers == ["item_ai"]
    document = json.loads(written.to_json())
    del document["excluded_triggers"]
    assert Manifest.from_json(json.dumps(document)).excluded_triggers == []
    assert a_manifest(excluded_triggers=["item_ai"]).partial


def test_tables_are_read_where_statements_name_tables_and_not_elsewhere():
    # Given bodies naming tables after FROM, JOIN, INTO, UPDATE and in comma lists, with aliases
    named = tables_named(
        b"BEGIN INSERT IGNORE INTO AuditLog (at) VALUES (NEW.Item); "
        b"UPDATE Counter c SET c.n = c.n + 1; "
        b"SELECT COUNT(*) INTO @n FROM `Orders` AS o, shop.Lines l JOIN Notes ON Notes.id = l.id; "
        b"SET @s = 'FROM Quoted'; DELETE FROM Gone; END",
        "",
    )
    # Then those are the names read, as written (the row's columns, strings and variables are not)
    assert set(named) == {"AuditLog", "Counter", "Orders", "Lines", "Notes", "Gone", "c", "l"}
    assert tables_named(b"INSERT INTO `unclosed", "") == []
