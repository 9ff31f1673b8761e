"""What would fail (or escape) late in a restore is seen before anything changes: the quote modes a dump
sets are read the same while loading as before it, on MySQL too (whose server reports no ANSI_QUOTES)."""

from __future__ import annotations

import uuid

import pytest

from cloudbackup.restore import restore_dump_file
from tests.fixtures.mariadb import admin_connect, run_sql
from tests.integration.restore_helpers import schemas_like

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
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        for schema in schemas_like(db_settings, name):
            cur.execute(f"DROP DATABASE IF EXISTS `{schema}`")


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
