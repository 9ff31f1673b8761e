"""A backup restored into a server that folds table names to lower case (lower_case_table_names=1,
which only a server's initialisation sets: Windows-born schemas, some managed defaults): tables whose
names differ only in case would become one, so such a backup is refused in one line before any change.

These tests start a second MySQL, initialised with lower_case_table_names=1, beside the session's."""

from __future__ import annotations

import uuid

import pytest

from cloudbackup.cli.cmd_show import details, render
from cloudbackup.dburl import parse_db_url
from cloudbackup.errors import OperationError
from cloudbackup.restore import restore_backup, restore_dump_file
from tests.fixtures.every_type import drop_database
from tests.fixtures.mariadb import SERVERS, admin_connect, run_sql
from tests.fixtures.mysql_server import fetch_mysql, start_mysql, stop_mysql
from tests.integration.restore_helpers import back_up, refused_before_any_change, schemas_like

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif("mysql" not in SERVERS, reason="CLOUDBACKUP_TEST_SERVERS does not name mysql"),
]


@pytest.fixture(scope="module")
def folding_mysql(tmp_path_factory):
    """A MySQL whose table names are stored in lower case and compared without case."""
    server = start_mysql(
        fetch_mysql(), tmp_path_factory.mktemp("mysql-lctn1"), options=["--lower-case-table-names=1"]
    )
    yield parse_db_url(server.url, environ={})
    stop_mysql(server.pid)


@pytest.fixture(scope="module")
def mysql(mysql_server):
    return parse_db_url(mysql_server.url, environ={})


@pytest.fixture
def source(mysql):
    name = f"cbt_case_{uuid.uuid4().hex[:8]}"
    with admin_connect(mysql) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}`")
    yield name
    drop_database(mysql, name)


def test_tables_differing_only_in_case_are_refused_where_names_fold(mysql, folding_mysql, source, tmp_path):
    # Given a backup of two tables whose names differ only in case, each with its own rows
    run_sql(
        mysql,
        source,
        "CREATE TABLE Orders (id INT PRIMARY KEY)",
        "CREATE TABLE orders (id INT PRIMARY KEY)",
        "INSERT INTO Orders VALUES (1)",
        "INSERT INTO orders VALUES (2), (3)",
    )
    entry = back_up(mysql, source, tmp_path)
    target = source + "_copy"
    # When it is restored into a server with lower_case_table_names=1
    with pytest.raises(OperationError) as refused:
        restore_backup(folding_mysql, entry, target_database=target)
    # Then it is refused in one line naming the tables and the setting, and nothing was created
    message = str(refused.value)
    assert "\n" not in message
    assert "refused before any change" in message
    assert "lower_case_table_names" in message
    assert "Orders" in message
    assert "orders" in message
    assert schemas_like(folding_mysql, target) == []


def test_mixed_case_names_that_stay_apart_restore_where_names_fold(mysql, folding_mysql, source, tmp_path):
    # Given a backup of mixed-case tables whose names stay distinct in lower case
    run_sql(
        mysql,
        source,
        "CREATE TABLE Customer (id INT PRIMARY KEY)",
        "CREATE TABLE OrderLine (id INT PRIMARY KEY, customer INT, "
        "CONSTRAINT fk_line_customer FOREIGN KEY (customer) REFERENCES Customer (id))",
        "INSERT INTO Customer VALUES (1)",
        "INSERT INTO OrderLine VALUES (1, 1)",
    )
    entry = back_up(mysql, source, tmp_path)
    target = source + "_copy"
    try:
        # When it is restored into a server with lower_case_table_names=1
        restore_backup(folding_mysql, entry, target_database=target)
        # Then every row is there, under the folded names
        with admin_connect(folding_mysql, target) as conn, conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM customer JOIN orderline ON orderline.customer = customer.id")
            assert cur.fetchone()[0] == 1
    finally:
        drop_database(folding_mysql, target)


@pytest.fixture
def folded_source(folding_mysql):
    """A database where names are compared without case, whose trigger and procedure write `AuditLog`
    for table auditlog (a view does too, but the server keeps its definition with the table's name)."""
    name = f"cbt_fold_{uuid.uuid4().hex[:8]}"
    with admin_connect(folding_mysql) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}`")
    run_sql(
        folding_mysql,
        name,
        "CREATE TABLE AuditLog (at INT)",
        "CREATE TABLE Item (id INT PRIMARY KEY)",
        "CREATE TABLE tag (name VARCHAR(20))",
        "CREATE TRIGGER item_ai AFTER INSERT ON Item FOR EACH ROW INSERT INTO AuditLog VALUES (NEW.id)",
        "CREATE TRIGGER tag_ai AFTER INSERT ON tag FOR EACH ROW INSERT INTO auditlog VALUES (0)",
        "CREATE PROCEDURE p_count() SELECT COUNT(*) FROM AuditLog a JOIN Item i ON a.at = i.id",
        "CREATE VIEW v_audit AS SELECT at FROM AuditLog",
        "INSERT INTO Item VALUES (1)",
    )
    yield name
    drop_database(folding_mysql, name)


def test_programs_naming_a_table_in_another_case_are_refused_where_names_keep_their_case(
    mysql, folding_mysql, folded_source, tmp_path
):
    # Given a backup made where table names are compared without case
    entry = back_up(folding_mysql, folded_source, tmp_path)
    # Then its manifest records the setting and the programs that name a table in another case
    manifest = entry.manifest
    assert manifest.lower_case_table_names == 1
    assert [(r.kind, r.name, r.table, r.written, r.means) for r in manifest.name_case_references] == [
        ("trigger", "item_ai", "item", "AuditLog", "auditlog"),
        ("procedure", "p_count", "", "AuditLog", "auditlog"),
    ]
    shown = render(details(entry))
    assert (
        "case      trigger `item_ai` names `AuditLog` for table `auditlog`: a restore into a server with "
        "lower_case_table_names = 0 refuses it (the source has 1)"
    ) in shown.splitlines()
    target = folded_source + "_copy"
    # When it is restored whole, or only table item, into a server that compares names with case
    for tables in (None, ["item"]):
        with pytest.raises(OperationError) as refused:
            restore_backup(mysql, entry, target_database=target, tables=tables)
        # Then it is refused in one line naming what would fail and the setting, and nothing is created
        message = str(refused.value)
        assert "\n" not in message
        assert "refused before any change" in message
        assert "trigger `item_ai` names `AuditLog` for table `auditlog`" in message
        assert ("procedure `p_count`" in message) == (tables is None)
        assert "lower_case_table_names = 1" in message
        assert schemas_like(mysql, target) == []
    # When only tables whose triggers name tables as they are named are restored there, Then they work
    try:
        restore_backup(mysql, entry, target_database=target, tables=["tag", "auditlog"])
        run_sql(mysql, target, "INSERT INTO tag VALUES ('a')")
    finally:
        drop_database(mysql, target)
    # When it is restored whole where names are compared without case, Then every program works
    try:
        restore_backup(folding_mysql, entry, target_database=target)
        run_sql(folding_mysql, target, "INSERT INTO Item VALUES (2)", "CALL p_count()")
    finally:
        drop_database(folding_mysql, target)


def test_a_dump_file_of_tables_differing_only_in_case_is_refused_where_names_fold(folding_mysql, tmp_path):
    # Given a plain dump file of two tables whose names differ only in case, each with its own rows
    path = tmp_path / "cased.sql"
    path.write_bytes(
        b"CREATE TABLE Orders (id INT PRIMARY KEY);\nINSERT INTO Orders VALUES (1);\n"
        b"CREATE TABLE orders (id INT PRIMARY KEY);\nINSERT INTO orders VALUES (2), (3);\n"
    )
    target = f"platecheck_case_{uuid.uuid4().hex[:8]}"
    # When it is restored into a server with lower_case_table_names=1
    with pytest.raises(OperationError) as refused:
        restore_dump_file(folding_mysql, str(path), target_database=target)
    # Then it is refused in one line naming the tables and the setting, and nothing was created
    message = refused_before_any_change(refused, folding_mysql, target)
    assert "the file holds tables whose names differ only in case (Orders and orders)" in message
