"""A MariaDB backup restored into MySQL, and a MySQL backup into MariaDB: it works, or it is refused
before anything changes, in one line naming what cannot cross. Never a half-restored database.

These tests need both servers at once: the machine's MariaDB and the session's MySQL.
"""

from __future__ import annotations

import uuid

import pytest

from cloudbackup.dburl import parse_db_url
from cloudbackup.drill.run import run_drill
from cloudbackup.errors import OperationError, UsageError
from cloudbackup.restore import restore_backup
from tests.fixtures.every_type import drop_database, load_every_type
from tests.fixtures.mariadb import SERVERS, TEST_DB_URL, admin_connect, load_sakila
from tests.integration.restore_helpers import back_up, schemas_like

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif("mysql" not in SERVERS, reason="CLOUDBACKUP_TEST_SERVERS does not name mysql"),
]


@pytest.fixture(scope="module")
def mariadb():
    return parse_db_url(TEST_DB_URL, environ={})


@pytest.fixture(scope="module")
def mysql(mysql_server):
    return parse_db_url(mysql_server.url, environ={})


@pytest.fixture
def databases():
    """Names of databases to drop afterwards, on either server: (settings, name)."""
    made = []

    def name(settings, stem):
        database = f"cbt_{stem}_{uuid.uuid4().hex[:8]}"
        made.append((settings, database))
        return database

    yield name
    for settings, database in made:
        drop_database(settings, database)


def refusal(source, target, tmp_path, databases, loader):
    """Back up a fresh copy made by `loader` on `source`, restore it on `target`: the error and target."""
    copy = databases(source, "cross")
    loader(source, copy)
    entry = back_up(source, copy, tmp_path)
    target_db = databases(target, "crossed")
    with pytest.raises(OperationError) as refused:
        restore_backup(target, entry, target_database=target_db)
    return str(refused.value), target_db


def test_mariadb_every_type_is_refused_by_mysql_naming_what_cannot_cross(mariadb, mysql, tmp_path, databases):
    # Given a backup of MariaDB's every-type schema, When it is restored into MySQL
    message, target = refusal(mariadb, mysql, tmp_path, databases, load_every_type)
    # Then one line names each MariaDB-only thing it holds, and MySQL was not touched
    assert "\n" not in message
    assert "refused before any change: this mariadb" in message
    assert "backup holds what mysql 9.7" in message
    for what in (
        "sequences (seq_cycled",
        "system versioning (versioned",
        "INET6/INET4/UUID columns (all_misc",
    ):
        assert what in message
    assert "storage engines (Aria)" in message
    assert schemas_like(mysql, target) == []


def test_mysql_every_type_is_refused_by_mariadb_naming_what_cannot_cross(mariadb, mysql, tmp_path, databases):
    # Given a backup of MySQL's every-type schema, When it is restored into MariaDB
    message, target = refusal(mysql, mariadb, tmp_path, databases, load_every_type)
    # Then one line names each MySQL-only thing it holds, and MariaDB was not touched
    assert "\n" not in message
    assert "refused before any change: this mysql 9.7" in message
    for what in (
        "collations (utf8mb4_0900_as_cs",
        "VECTOR columns (all_misc)",
        "geometry columns bound to an SRID (all_spatial)",
        "functional or multi-valued indexes (indexed)",
        "CHECK constraints NOT ENFORCED (checked)",
    ):
        assert what in message
    assert schemas_like(mariadb, target) == []


def test_sakila_crosses_from_mariadb_into_mysql_row_for_row(mariadb, mysql, tmp_path, databases):
    # Given a backup of sakila taken on MariaDB (its routines carry MariaDB's default sql_mode)
    source = databases(mariadb, "cross")
    load_sakila(mariadb, source)
    entry = back_up(mariadb, source, tmp_path)
    # When it is restored into MySQL
    target = databases(mysql, "crossed")
    result = restore_backup(mysql, entry, target_database=target)
    # Then every table holds the same rows, and every view, routine and trigger is there
    assert result.tables == 16
    assert contents(mysql, target) == contents(mariadb, source)


def test_a_portable_mysql_database_crosses_into_mariadb(mariadb, mysql, tmp_path, databases):
    # Given a MySQL database using what both servers have (collation named, objects made under it)
    source = databases(mysql, "cross")
    with admin_connect(mysql) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{source}` COLLATE utf8mb4_unicode_ci")
        cur.execute(f"USE `{source}`")
        cur.execute("SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci")
        cur.execute("CREATE TABLE t (id int primary key, v varchar(20), d datetime(3), j json)")
        cur.execute(
            "INSERT INTO t VALUES (1, 'é😀', '2024-02-29 12:00:00.5', '{\"a\": [1, 2]}'),"
            " (2, NULL, NULL, NULL)"
        )
        cur.execute("CREATE VIEW v AS SELECT id, UPPER(v) AS u FROM t")
        cur.execute("CREATE PROCEDURE p() READS SQL DATA SELECT COUNT(*) FROM t")
    entry = back_up(mysql, source, tmp_path)
    # When it is restored into MariaDB
    target = databases(mariadb, "crossed")
    restore_backup(mariadb, entry, target_database=target)
    # Then the rows and objects are there
    with admin_connect(mariadb, target) as conn, conn.cursor() as cur:
        cur.execute("SELECT id, v, d, JSON_EXTRACT(j, '$.a[1]') FROM t ORDER BY id")
        rows = cur.fetchall()
        cur.execute("SELECT u FROM v ORDER BY id")
        upper = [r[0] for r in cur.fetchall()]
        cur.execute("CALL p()")
        (count,) = cur.fetchone()
    assert [r[:2] for r in rows] == [(1, "é😀"), (2, None)]
    assert str(rows[0][2]) == "2024-02-29 12:00:00.500000"
    assert rows[0][3] == "2"
    assert upper == ["É😀", None]
    assert count == 2


# Table options and index kinds of one flavour that the other's CREATE TABLE rejects: (the source
# flavour, the table's definition, what the refusal names).
ONE_FLAVOUR_TABLES = [
    ("mariadb", "pc (id int primary key) PAGE_COMPRESSED=1", "InnoDB page compression (pc)"),
    ("mariadb", "enc (id int primary key) ENCRYPTED=NO", "table encryption options (enc)"),
    ("mariadb", "ign (id int primary key, v int, KEY iv (v) IGNORED)", "ignored indexes (ign)"),
    ("mariadb", "lu (id int primary key, b blob, UNIQUE KEY ub (b))", "long UNIQUE keys (USING HASH) (lu)"),
    # (MySQL drops a TEXT column's literal default with only a warning: INSERTs leaving it out would fail)
    ("mariadb", "td (id int primary key, note text NOT NULL DEFAULT '')", "TEXT/BLOB literal defaults (td)"),
    ("mariadb", "bk (r int, s date, e date, PERIOD FOR stay (s, e))", "application-time periods (bk)"),
    ("mariadb", "ud (id int primary key, u varchar(40) DEFAULT uuid())", "function-call defaults (ud)"),
    ("mysql", "zl (id int primary key) COMPRESSION='zlib'", "InnoDB page compression (zl)"),
    # (MariaDB skips MySQL's `/*!80023 INVISIBLE */`: the column would show in SELECT * and INSERTs)
    ("mysql", "inv (id int primary key, secret int INVISIBLE)", "invisible columns (inv)"),
]


@pytest.mark.parametrize(("flavour", "table", "named"), ONE_FLAVOUR_TABLES)
def test_a_table_option_of_one_flavour_is_refused_by_the_other_before_any_change(
    mariadb, mysql, tmp_path, databases, flavour, table, named
):
    # Given a backup holding a table with an option or index only its own flavour creates
    source_server, target_server = (mariadb, mysql) if flavour == "mariadb" else (mysql, mariadb)

    def loader(settings, database):
        with admin_connect(settings) as conn, conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{database}` COLLATE utf8mb4_unicode_ci")
            cur.execute(f"CREATE TABLE `{database}`.{table}")

    # When it is restored into the other flavour
    message, target = refusal(source_server, target_server, tmp_path, databases, loader)
    # Then it is refused up front, in one line naming it, and nothing was created
    assert "\n" not in message
    assert "refused before any change" in message
    assert named in message
    assert schemas_like(target_server, target) == []


def test_a_json_duality_view_is_refused_by_mariadb_before_any_change(mariadb, mysql, tmp_path, databases):
    # Given a MySQL backup holding a JSON duality view, all else portable
    def loader(settings, database):
        with admin_connect(settings) as conn, conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{database}` COLLATE utf8mb4_unicode_ci")
            cur.execute(f"CREATE TABLE `{database}`.cust (id int primary key, name varchar(20))")
            cur.execute("SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci")  # (a session MariaDB has too)
            cur.execute(
                f"CREATE JSON RELATIONAL DUALITY VIEW `{database}`.dv AS"
                f" SELECT JSON_DUALITY_OBJECT('_id': id, 'name': name) FROM `{database}`.cust"
            )

    # When it is restored into MariaDB; Then it is refused up front, naming the view, and nothing made
    message, target = refusal(mysql, mariadb, tmp_path, databases, loader)
    assert "refused before any change" in message
    assert "JSON duality views (`dv`)" in message
    assert schemas_like(mariadb, target) == []


def contents(settings, database):
    """Every table's rows (sorted), and the names of its views, routines and triggers."""
    with admin_connect(settings, database) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = %s",
            (database,),
        )
        found = {}
        for name, kind in cur.fetchall():
            if kind == "VIEW":
                found[name] = "view"
                continue
            cur.execute(f"SELECT * FROM `{name}`")
            found[name] = sorted(map(repr, cur.fetchall()))
        cur.execute(
            "SELECT routine_name FROM information_schema.routines WHERE routine_schema = %s", (database,)
        )
        found["routines"] = sorted(r[0] for r in cur.fetchall())
        cur.execute(
            "SELECT trigger_name FROM information_schema.triggers WHERE trigger_schema = %s", (database,)
        )
        found["triggers"] = sorted(r[0] for r in cur.fetchall())
    return found


@pytest.mark.parametrize("direction", ["mariadb into mysql", "mysql into mariadb"])
def test_a_drill_on_the_other_flavour_is_refused_before_anything_is_created(
    mariadb, mysql, tmp_path, databases, direction
):
    # Given a backup of a small database taken on one flavour
    source_server, drill_server = (mariadb, mysql) if direction == "mariadb into mysql" else (mysql, mariadb)
    source = databases(source_server, "drilled")
    with admin_connect(source_server) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{source}`")
        cur.execute(f"CREATE TABLE `{source}`.t (id int primary key, v varchar(20))")
        cur.execute(f"INSERT INTO `{source}`.t VALUES (1, 'a'), (2, 'b')")
    entry = back_up(source_server, source, tmp_path)
    # When it is drilled on a server of the other flavour (where every table's text differs, so the
    # proof would call the backup damaged)
    with pytest.raises(UsageError) as refused:
        run_drill(drill_server, entry)
    # Then one line says why and what to do instead, and no scratch database was made there
    message = str(refused.value)
    assert "\n" not in message
    assert f"the backup is of {entry.manifest.server.flavour} " in message
    assert "`cloudbackup restore` tries the crossing" in message
    assert schemas_like(drill_server, source) == []
