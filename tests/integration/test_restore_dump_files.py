"""Plain dump files from mysqldump and mariadb-dump load through our restore exactly as through the
stock mysql client (the reference loader)."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import pytest
import zstandard

from cloudbackup.dburl import DbSettings
from cloudbackup.errors import OperationError, UsageError
from cloudbackup.restore import restore_dump_file
from tests.fixtures.compare import assert_databases_equal
from tests.fixtures.mariadb import admin_connect, db_url, load_sql_file, run_sql, stock_tool_args

pytestmark = pytest.mark.integration

ALL_OBJECTS = ["--routines", "--triggers", "--events"]
# Sakila loads in a few seconds; a restore that takes this long is hung.
RESTORE_TIMEOUT_SECONDS = 120


def dump(
    settings: DbSettings, tool: str, database: str, flags: list[str], path: Path, compression: str
) -> tuple[Path, Path]:
    """(the file to restore, the plain SQL of it)"""
    args = stock_tool_args(settings, tool)  # on MySQL, its own mysqldump for either name
    sql = subprocess.run([*args, *flags, database], capture_output=True, check=True).stdout
    plain = path.with_suffix(".sql")
    plain.write_bytes(sql)
    if compression == "gzip":
        out = path.with_suffix(".sql.gz")
        out.write_bytes(gzip.compress(sql))
    elif compression == "zstd":
        out = path.with_suffix(".sql.zst")
        out.write_bytes(zstandard.ZstdCompressor().compress(sql))
    else:
        out = plain
    return out, plain


@pytest.mark.parametrize(
    ("tool", "flags", "compression"),
    [
        ("mysqldump", ALL_OBJECTS, "gzip"),
        ("mysqldump", ["--skip-triggers"], "none"),
        ("mariadb-dump", ALL_OBJECTS, "zstd"),
        ("mariadb-dump", ["--skip-triggers"], "gzip"),
    ],
)
def test_a_stock_dump_loads_as_with_the_mysql_client(
    db_settings, sakila_db, make_database, tmp_path, tool, flags, compression
):
    # Given a dump of sakila made by the stock tool, compressed or not
    path, plain = dump(db_settings, tool, sakila_db, flags, tmp_path / "sakila", compression)
    # When our restore loads it, and the stock client loads the same SQL elsewhere
    ours = make_database("rd")
    result = restore_dump_file(db_settings, str(path), target_database=ours, jobs=3)
    reference = make_database("rr")
    load_sql_file(db_settings, reference, plain)
    # Then both databases are the same, object for object and row for row
    assert_databases_equal(db_settings, reference, ours)
    assert result.rows > 40_000
    if "--triggers" in flags:
        assert_databases_equal(db_settings, sakila_db, ours)


def test_a_dump_without_a_parent_table_restores_its_childs_key_naming_the_target_not_staging(
    db_settings, make_database, tmp_path
):
    # Given a stock dump made without a parent table (--ignore-table) whose child refers to it
    source = make_database("rfk")
    run_sql(
        db_settings,
        source,
        "CREATE TABLE parent (id INT PRIMARY KEY)",
        "CREATE TABLE child (id INT PRIMARY KEY, pid INT, "
        "CONSTRAINT fk_parent FOREIGN KEY (pid) REFERENCES parent (id))",
        "INSERT INTO parent VALUES (1)",
        "INSERT INTO child VALUES (1, 1)",
    )
    flags = ["--ignore-table", f"{source}.parent"]
    path, plain = dump(db_settings, "mysqldump", source, flags, tmp_path / "child", "none")
    # When our restore loads it, and the stock client loads the same SQL elsewhere
    ours = make_database("rfd")
    restore_dump_file(db_settings, str(path), target_database=ours)
    reference = make_database("rfr")
    load_sql_file(db_settings, reference, plain)
    # Then the child's key names parent in its own database, as the stock client's does (the restore's
    # staging database, dropped at its end, it named before)
    for database in (ours, reference):
        with admin_connect(db_settings, database) as conn, conn.cursor() as cur:
            cur.execute("SHOW CREATE TABLE child")
            assert "REFERENCES `parent` (`id`)" in cur.fetchone()[1], database
    assert_databases_equal(db_settings, reference, ours)


def test_a_databases_dump_is_retargeted(db_settings, sakila_db, make_database, tmp_path):
    # Given a dump made with --databases: it says CREATE DATABASE and USE of the source name
    path, plain = dump(
        db_settings, "mariadb-dump", sakila_db, ["--databases", *ALL_OBJECTS], tmp_path / "s", "zstd"
    )
    assert f"USE `{sakila_db}`".encode() in plain.read_bytes()
    target = make_database("ru")
    # When it is restored under another name; Then the copy is complete and the source untouched
    result = restore_dump_file(db_settings, str(path), target_database=target)
    assert result.source_database == sakila_db
    assert_databases_equal(db_settings, sakila_db, target)


def test_a_dump_of_two_databases_is_refused(db_settings, make_database, tmp_path):
    a, b = make_database("ra"), make_database("rb")
    for name in (a, b):
        with admin_connect(db_settings, name) as conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE t (id int primary key)")
    path, _ = dump(db_settings, "mysqldump", a, ["--databases", b], tmp_path / "two", "none")
    target = make_database("rt")
    with pytest.raises(UsageError, match="holds more than one database"):
        restore_dump_file(db_settings, str(path), target_database=target)
    with admin_connect(db_settings, target) as conn, conn.cursor() as cur:
        cur.execute("SHOW TABLES")
        assert cur.fetchall() == ()


def test_a_bad_statement_names_its_number_and_line_and_leaves_the_target(
    db_settings, make_database, tmp_path
):
    path = tmp_path / "bad.sql"
    path.write_bytes(
        b"CREATE TABLE t (id int primary key);\nINSERT INTO t VALUES (1);\n\nINSERT INTO nope VALUES (2);\n"
    )
    target = make_database("rb")
    with pytest.raises(Exception, match=r"statement 3 \(line 4, bad.sql\) failed: error 1146: Table .*nope"):
        restore_dump_file(db_settings, str(path), target_database=target)
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE %s", (target + "%",)
        )
        assert [r[0] for r in cur.fetchall()] == [target]  # no staging left behind
        cur.execute(f"SHOW TABLES FROM `{target}`")
        assert cur.fetchall() == ()


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_a_dump_saved_with_a_byte_order_mark_loads_as_with_the_mysql_client(
    db_settings, make_database, tmp_path, compression
):
    # Given a dump an editor saved with a UTF-8 byte order mark in front (Windows' Notepad does)
    sql = "\ufeffCREATE TABLE t (id int primary key, s varchar(10));\nINSERT INTO t VALUES (1,'é'),(2,'b');\n"
    plain = tmp_path / "edited.sql"
    plain.write_bytes(sql.encode())
    path = plain if compression == "none" else tmp_path / "edited.sql.gz"
    if compression == "gzip":
        path.write_bytes(gzip.compress(plain.read_bytes()))
    # When our restore loads it, and the stock client (which skips the mark) loads it elsewhere
    ours = make_database("rbom")
    result = restore_dump_file(db_settings, str(path), target_database=ours)
    reference = make_database("rbomref")
    load_sql_file(db_settings, reference, plain)
    # Then both hold the same table and rows
    assert result.rows == 2
    assert_databases_equal(db_settings, reference, ours)


def test_a_stock_dump_of_programs_with_comments_restores_them(db_settings, make_database, tmp_path):
    # Given triggers and an event whose bodies hold a comment, a line comment and a `*/` in a string:
    # the stock dump wraps them in `/*!50003 … */`, which the server reads on through quotes and comments
    # (MariaDB's stock client cuts such an event short at the comment's `*/`: no reference load here)
    source = make_database("rcsrc")
    with admin_connect(db_settings, source) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE t (id int primary key, a int)")
        cur.execute("CREATE TABLE log (id int auto_increment primary key, msg varchar(50))")
        cur.execute(
            "CREATE TRIGGER t_double BEFORE INSERT ON t FOR EACH ROW BEGIN /* double it */\n"
            "  SET NEW.a = NEW.a * 2; -- then log it */\n"
            "  INSERT INTO log (msg) VALUES (CONCAT('doubled ;*/ ', NEW.a));\nEND"
        )
        cur.execute(
            "CREATE EVENT e_note ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00' DISABLE"
            " DO INSERT INTO log (msg) VALUES ('*/ nightly') /* kept */"
        )
    path, _ = dump(db_settings, "mysqldump", source, ALL_OBJECTS, tmp_path / "c", "none")
    # When our restore loads it
    ours = make_database("rcours")
    restore_dump_file(db_settings, str(path), target_database=ours)
    # Then the copy holds the same objects as the source, and the restored trigger runs
    assert_databases_equal(db_settings, source, ours)
    with admin_connect(db_settings, ours) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO t VALUES (1, 21)")
        cur.execute("SELECT msg FROM log")
        assert cur.fetchall() == (("doubled ;*/ 42",),)


@pytest.mark.parametrize("tool", ["mysqldump", "mariadb-dump"])
def test_a_dump_written_with_autocommit_off_loads_as_with_the_mysql_client(
    db_settings, sakila_db, make_database, tmp_path, tool
):
    # Given a dump made with --no-autocommit: each table's rows in one transaction, committed only
    # after the table's `ALTER TABLE … ENABLE KEYS`
    flags = ["--no-autocommit", *ALL_OBJECTS]
    path, plain = dump(db_settings, tool, sakila_db, flags, tmp_path / "ac", "none")
    assert b"ENABLE KEYS" in plain.read_bytes()
    # When our restore loads it (the CLI, in a process of its own: a hung load is ended by the timeout)
    ours = make_database("rac")
    url = db_url(db_settings, ours)
    done = subprocess.run(
        [sys.executable, "-m", "cloudbackup.cli.main", "restore", "--db-url", url, "--backup", str(path)],
        capture_output=True,
        text=True,
        timeout=RESTORE_TIMEOUT_SECONDS,
    )
    # Then it finishes, and holds what the stock client makes of the same file
    assert done.returncode == 0, done.stderr
    reference = make_database("racref")
    load_sql_file(db_settings, reference, plain)
    assert_databases_equal(db_settings, reference, ours)
    assert_databases_equal(db_settings, sakila_db, ours)


@pytest.mark.parametrize(("tool", "compression"), [("mysqldump", "gzip"), ("mariadb-dump", "none")])
def test_a_stock_dump_cut_short_between_statements_is_refused_before_anything_changes(
    db_settings, sakila_db, make_database, tmp_path, tool, compression
):
    # Given a stock dump cut off after a whole statement, before its `-- Dump completed` line (a full
    # disk or a dropped connection while it was written): every statement in it is well formed
    _, plain = dump(db_settings, tool, sakila_db, ALL_OBJECTS, tmp_path / "whole", "none")
    sql = plain.read_bytes()
    cut = sql[: sql.index(b"/*!40000 ALTER TABLE `payment` ENABLE KEYS */;")]
    cut_path = tmp_path / ("cut.sql.gz" if compression == "gzip" else "cut.sql")
    cut_path.write_bytes(gzip.compress(cut) if compression == "gzip" else cut)
    target = make_database("rcut")
    # When it is restored
    with pytest.raises(OperationError, match=r"cut short.*-- Dump completed") as refused:
        restore_dump_file(db_settings, str(cut_path), target_database=target)
    # Then it is refused in one line, and the target is left empty with no staging beside it
    assert "\n" not in str(refused.value)
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE %s", (target + "%",)
        )
        assert [r[0] for r in cur.fetchall()] == [target]
        cur.execute(f"SHOW TABLES FROM `{target}`")
        assert cur.fetchall() == ()
