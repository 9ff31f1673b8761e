"""A hand restore with the stock client (`mysql -e 'CREATE DATABASE copy …' && zstd -dc F | mysql copy`)
gives an exact copy and never touches the source: the data object names no database, and every byte
the client could alter inside a string is escaped."""

from __future__ import annotations

import re
import shlex
import subprocess
import uuid

import pytest

from cloudbackup.backup import backup_database
from cloudbackup.storage.local import LocalStorage
from tests.fixtures.compare import assert_databases_equal
from tests.fixtures.mariadb import admin_connect, flavour, mysql_client_args, run_sql

pytestmark = pytest.mark.integration

# Bytes the stock client reads specially: CR before LF is dropped, NUL and ^Z end or alter input.
AWKWARD = ["a\r\nb", "\r", "x\ny", "\0z", "\x1a", "back\\slash", "it's", 'dq"', "\r\n\r\n", "tab\there;"]


def backed_up(db_settings, database, tmp_path, compression="zstd"):
    store = LocalStorage(tmp_path / "data")
    manifest = backup_database(db_settings, database, store, source="t", compression=compression)
    return manifest, store.location(manifest.data.key)


def loaded_by_hand(db_settings, make_database, manifest, sql: bytes) -> str:
    """A new database with the backup's defaults, `sql` loaded into it by the stock client: its name."""
    copy = make_database("copy")
    run_sql(
        db_settings,
        copy,
        f"ALTER DATABASE `{copy}` CHARACTER SET {manifest.charset} COLLATE {manifest.collation}",
    )
    loaded = subprocess.run(
        [*mysql_client_args(db_settings), copy], input=sql, capture_output=True, check=False
    )
    assert loaded.returncode == 0, loaded.stderr.decode(errors="replace")
    return copy


def test_a_hand_restore_into_a_copy_is_exact_and_leaves_the_source(db_settings, make_database, tmp_path):
    # Given a live database whose text holds CR, LF, NUL, ^Z, backslashes and quotes, backed up
    source = make_database("src")
    run_sql(
        db_settings,
        source,
        "CREATE TABLE t (id int primary key, v text, b varbinary(20), j varchar(20))",
        "CREATE TABLE nokey (v text)",
        "CREATE VIEW vv AS SELECT id, v FROM t",
    )
    with admin_connect(db_settings, source) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO t VALUES (%s, %s, %s, %s)", [(i, v, v.encode(), v) for i, v in enumerate(AWKWARD)]
        )
        cur.executemany("INSERT INTO nokey VALUES (%s)", [(v,) for v in AWKWARD])
    manifest, path = backed_up(db_settings, source, tmp_path)
    run_sql(db_settings, source, "INSERT INTO t VALUES (999, 'after the backup', NULL, NULL)")
    # When the operator follows the header's hand restore
    sql = subprocess.run(["zstd", "-dc", path], capture_output=True, check=True).stdout
    head = sql[:2048].decode()
    assert (
        f"source database: `{source}`, CHARACTER SET {manifest.charset} COLLATE {manifest.collation}" in head
    )
    copy = loaded_by_hand(db_settings, make_database, manifest, sql)
    # Then the copy's values are byte for byte the source's, and the source kept its newer row
    code = b"\n".join(line for line in sql.split(b"\n") if not line.startswith(b"--"))
    assert b"USE `" not in code
    assert b"CREATE DATABASE" not in code
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT id, v, b, j FROM `{copy}`.t ORDER BY id")
        assert cur.fetchall() == tuple((i, v, v.encode(), v) for i, v in enumerate(AWKWARD))
        cur.execute(f"SELECT v FROM `{copy}`.nokey ORDER BY v")
        assert sorted(v for (v,) in cur.fetchall()) == sorted(AWKWARD)
        cur.execute(f"SELECT COUNT(*) FROM `{source}`.t WHERE id = 999")
        assert cur.fetchone()[0] == 1
        cur.execute(f"SELECT COUNT(*) FROM `{copy}`.vv")
        assert cur.fetchone()[0] == len(AWKWARD)


def test_the_headers_own_command_restores_sakila_into_an_identical_copy(db_settings, sakila_db, tmp_path):
    # Given a backup of sakila (views, routines, triggers, spatial and FULLTEXT indexes)
    _manifest, path = backed_up(db_settings, sakila_db, tmp_path)
    head = subprocess.run(["zstd", "-dc", path], capture_output=True, check=True).stdout[:2048].decode()
    (said,) = [line for line in head.splitlines() if "CREATE DATABASE copy" in line]
    # When the operator runs the header's command as written (the client pointed at the server, F named)
    copy = f"cbt_handcopy_{uuid.uuid4().hex[:8]}"
    client = shlex.join(mysql_client_args(db_settings))
    command = said.removeprefix("--").strip()
    command = re.sub(r"\bmysql\b", lambda _: client, command)
    command = re.sub(r"\bcopy\b", copy, command).replace(" F ", f" {shlex.quote(path)} ")
    try:
        done = subprocess.run(["sh", "-c", command], capture_output=True, check=False)
        assert done.returncode == 0, done.stderr.decode(errors="replace")
        # Then the copy is sakila, object for object and row for row
        assert_databases_equal(db_settings, sakila_db, copy)
    finally:
        run_sql(db_settings, sakila_db, f"DROP DATABASE IF EXISTS `{copy}`")


# Stored programs as tools on Windows write them: CRLF line ends, a CR in a string, a comment.
CRLF_PROGRAMS = [
    "CREATE PROCEDURE p()\r\nBEGIN\r\n  SELECT 'a\rb' AS x; -- a comment\r\nEND",
    "CREATE FUNCTION f() RETURNS INT DETERMINISTIC\r\nBEGIN\r\n  RETURN 1;\r\nEND",
    "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW\r\nBEGIN\r\n  SET NEW.v = 'x\r\ny';\r\nEND",
    "CREATE EVENT ev ON SCHEDULE EVERY 1 DAY DISABLE DO\r\nBEGIN\r\n  DELETE FROM t WHERE id < 0;\r\nEND",
]
PROGRAM_SHOWS = ["PROCEDURE p", "FUNCTION f", "TRIGGER tr", "EVENT ev"]


def test_a_hand_restore_keeps_the_crlf_line_ends_of_stored_programs(db_settings, make_database, tmp_path):
    if flavour(db_settings) == "mysql":
        pytest.skip(
            "MySQL cannot prepare a CREATE of a stored program, so its text reaches the stock client as "
            "is, and the client drops a CR before LF (`mysql --binary-mode` keeps it; see README)"
        )
    # Given stored programs whose bodies have CRLF line ends, backed up
    source = make_database("src")
    run_sql(db_settings, source, "CREATE TABLE t (id int primary key, v text)", *CRLF_PROGRAMS)
    manifest, path = backed_up(db_settings, source, tmp_path)
    # When the operator follows the header's hand restore
    sql = subprocess.run(["zstd", "-dc", path], capture_output=True, check=True).stdout
    copy = loaded_by_hand(db_settings, make_database, manifest, sql)
    # Then each program's text is the source's, CR for CR (DESIGN: every byte the client could alter is
    # escaped)
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        for shown in PROGRAM_SHOWS:
            texts = []
            for database in (source, copy):
                cur.execute(f"SHOW CREATE {shown.split()[0]} `{database}`.{shown.split()[1]}")
                row = cur.fetchone()
                texts.append(row[2] if shown.startswith(("PROCEDURE", "FUNCTION", "TRIGGER")) else row[3])
            assert texts[1] == texts[0], shown
