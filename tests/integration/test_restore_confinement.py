"""A restore is confined to its target: a crafted dump that reaches into another database (or the
server) is refused before anything is created, with one line naming the statement; real dumps (our
backups, mysqldump, mariadb-dump) are accepted whole."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
import zstandard

from cloudbackup.backup import resolve_databases
from cloudbackup.catalog import find_backup
from cloudbackup.confine import lane_start, lanes
from cloudbackup.confine.allowed import SYSTEM_DATABASES
from cloudbackup.confine.check import Confinement
from cloudbackup.errors import OperationError, UsageError
from cloudbackup.format.manifest import Frame
from cloudbackup.mysql.splitter import split_statements
from cloudbackup.restore import restore_backup, restore_dump_file
from cloudbackup.verify import verify_backup
from tests.fixtures.compare import assert_databases_equal, snapshot
from tests.fixtures.mariadb import admin_connect, db_url, flavour, mysql_client_args, run_sql
from tests.fixtures.numbers import numbers
from tests.integration.restore_helpers import back_up, make_shop, schemas_like

pytestmark = pytest.mark.integration

PREFIX = (
    "/*!40101 SET NAMES utf8mb4 */;\nCREATE TABLE t (a int primary key);\nINSERT INTO t VALUES (1),(2);\n"
)
SUFFIX = "INSERT INTO t VALUES (3);\n"

# (case, the statement, as the issue and the brief list them); {other} is a live database, {uid} unique.
CRAFTED = [
    ("create in another database", "CREATE TABLE {other}.x (a int);"),
    ("drop behind a comment", "DROP /**/ DATABASE {other};"),
    ("execute immediate", "EXECUTE IMMEDIATE 'DROP TABLE {other}.t';"),
    ("create user", "CREATE USER 'cbt_evil_{uid}'@'localhost';"),
    ("grant", "GRANT ALL ON *.* TO 'cbt_evil_{uid}'@'localhost' IDENTIFIED BY 'x';"),
    ("set global", "SET GLOBAL max_connections = 1234;"),
    ("insert into another database", "INSERT INTO {other}.t VALUES (99);"),
    ("rename out of another database", "RENAME TABLE {other}.t TO t2;"),
    # (the stock client and the server run what follows MariaDB's sandbox comment on its line)
    ("code after a sandbox comment", "/*M!999999\\- enable the sandbox mode */ DROP TABLE {other}.t;"),
    ("conditional comment", "/*!50000 DROP TABLE {other}.t */;"),
    (
        "trigger body",
        "CREATE TRIGGER tr AFTER INSERT ON t FOR EACH ROW INSERT INTO {other}.t VALUES (NEW.a + 100);",
    ),
    ("view definition", "CREATE VIEW v AS SELECT a FROM {other}.t;"),
    ("routine body", "DELIMITER ;;\nCREATE PROCEDURE p() BEGIN DROP TABLE {other}.t; END;;\nDELIMITER ;"),
    ("prepare", "PREPARE s FROM 'DROP TABLE {other}.t';"),
    ("load data", "LOAD DATA INFILE '/etc/hostname' INTO TABLE t;"),
    ("select into outfile", "SELECT a FROM t INTO OUTFILE '/tmp/cbt_evil_{uid}';"),
    ("call", "CALL {other}.p();"),
    ("handler", "HANDLER {other}.t OPEN;"),
    ("flush", "FLUSH TABLES;"),
    ("set password", "SET PASSWORD FOR 'cbt_evil_{uid}'@'localhost' = 'x';"),
    ("rows read from another database", "INSERT INTO t SELECT a + 10 FROM {other}.t;"),
    # (the server reads `@@global . name` as @@global.name: a trigger setting it changes the server)
    (
        "global set by a trigger, spaced",
        "DELIMITER ;;\nCREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW "
        "SET @@global . max_connections = 1234;;\nDELIMITER ;",
    ),
    (
        "global set by an event, behind a comment",
        "CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO SET @@GLOBAL/**/.max_connections = 1234;",
    ),
    # (MySQL's spatial reference systems are the server's: a restored event must not create or drop one)
    (
        "spatial reference system in an event",
        "CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO DROP SPATIAL REFERENCE SYSTEM IF EXISTS 4000123;",
    ),
    (
        "spatial reference system in a routine",
        "CREATE PROCEDURE p() CREATE OR REPLACE SPATIAL REFERENCE SYSTEM 4000123 NAME 'cbt_evil_{uid}' "
        "DEFINITION 'x';",
    ),
    # (MySQL's IMPORT TABLE creates tables named in .sdi files on the server, in any database)
    # (the server reads `--` before any control character as a comment: a quote after it hides nothing)
    (
        "dash-dash comment ended by a control character",
        "DELIMITER ;;\nCREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW BEGIN --\x01 '\n"
        "SET @@global.max_connections = 1234;\n-- '\nEND;;\nDELIMITER ;",
    ),
    ("import table in a routine", "CREATE PROCEDURE p() IMPORT TABLE FROM '/tmp/cbt_evil_{uid}.sdi';"),
    ("restart in an event", "CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO RESTART;"),
    (
        "restart after a sequence's",
        "DELIMITER ;;\nCREATE PROCEDURE p() BEGIN ALTER SEQUENCE s RESTART WITH 5; RESTART; END;;\n"
        "DELIMITER ;",
    ),
    # (a body hiding its writes from replicas and the binlog archive, or logged as another thread's)
    (
        "sql_log_bin in a routine",
        "DELIMITER ;;\nCREATE PROCEDURE p() BEGIN SET sql_log_bin = 0; INSERT INTO t VALUES (9); END;;\n"
        "DELIMITER ;",
    ),
    # (the caller's session keeps it: its later writes to other databases are logged as statements, which
    # no point-in-time restore of those replays)
    ("binlog_format in a routine", "CREATE PROCEDURE p() SET SESSION binlog_format = 'STATEMENT';"),
    (
        "pseudo_thread_id in an event",
        "CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO SET @@session.pseudo_thread_id = 5;",
    ),
    # (a procedure runs with its definer's rights: root's, for whoever may call it, reading every session's
    # statements or another database's tables)
    ("show processlist in a routine", "CREATE DEFINER=root@localhost PROCEDURE p() SHOW FULL PROCESSLIST;"),
    ("show tables of another database", "CREATE PROCEDURE p() SHOW TABLE STATUS FROM {other};"),
    # (MySQL's LOCK INSTANCE FOR BACKUP: DDL held back on the whole server while the session lives)
    ("lock instance in a routine", "CREATE PROCEDURE p() LOCK INSTANCE FOR BACKUP;"),
    # (MySQL's built-in loadable function setting a global; the row after the dump fires the trigger.
    # Set to its own value here, so that a run before the check knew of it changed nothing lasting.)
    (
        "server function in a trigger",
        "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW "
        "SET @x = innodb_set_open_files_limit(@@innodb_open_files);",
    ),
    # (MySQL 9's JavaScript routines run SQL of their own, built at run time, which the check cannot
    # read: MySQL creates them even where no JavaScript engine runs them yet; MariaDB has none)
    (
        "javascript routine",
        "CREATE FUNCTION f() RETURNS INT DETERMINISTIC LANGUAGE JAVASCRIPT "
        'AS $$ return "DROP TABLE {other}.t".length $$;',
    ),
]


@pytest.fixture
def victim(db_settings, make_database):
    """A live database a crafted dump would harm: one table with rows, one trigger-free view."""
    other = make_database("victim")
    run_sql(db_settings, other, "CREATE TABLE t (a int primary key)", "INSERT INTO t VALUES (7), (8)")
    return other


def world(db_settings, other: str, uid: str) -> dict[str, object]:
    """What a crafted dump could have changed: the victim, users, a global, files."""
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM mysql.user WHERE user LIKE %s", (f"cbt_evil_{uid}%",))
        users = cur.fetchone()[0]
        cur.execute("SELECT @@GLOBAL.max_connections")
        connections = cur.fetchone()[0]
    return {
        "victim": snapshot(db_settings, other),
        "users": users,
        "max_connections": connections,
        "outfile": os.path.exists(f"/tmp/cbt_evil_{uid}"),
    }


@pytest.mark.parametrize(("case", "statement"), CRAFTED, ids=[c for c, _ in CRAFTED])
def test_a_crafted_dump_is_refused_before_anything_changes(
    db_settings, make_database, victim, tmp_path, case, statement
):
    # Given a dump whose 4th statement reaches outside its target
    uid = uuid.uuid4().hex[:8]
    path = tmp_path / "crafted.sql"
    path.write_text(PREFIX + statement.format(other=victim, uid=uid) + "\n" + SUFFIX)
    target = f"cbt_conf_{uid}"
    before = world(db_settings, victim, uid)
    # When it is restored into a new target
    try:
        with pytest.raises(OperationError, match=r"statement 4 \(line [45]\) refused") as refused:
            restore_dump_file(db_settings, str(path), target_database=target)
        # Then it is refused in one line, and nothing changed anywhere: no target, no staging, the
        # victim as it was, no user, no global setting, no file
        assert "\n" not in str(refused.value)
        assert schemas_like(db_settings, target) == []
        assert world(db_settings, victim, uid) == before
    finally:
        run_sql(db_settings, victim, f"SET GLOBAL max_connections = {before['max_connections']}")


def test_a_merge_table_over_a_database_made_later_is_refused_before_anything_changes(db_settings, tmp_path):
    # Given a dump whose MERGE table lists a table of a database the server does not have yet: once one
    # of that name exists, inserting into the restored table writes into it, selecting reads it
    uid = uuid.uuid4().hex[:8]
    later, target = f"cbt_later_{uid}", f"cbt_conf_{uid}"
    path = tmp_path / "crafted.sql"
    path.write_text(
        "CREATE TABLE t (a int) ENGINE=MyISAM;\n"
        f"CREATE TABLE m (a int) ENGINE=MRG_MyISAM UNION=(t, {later}.t) INSERT_METHOD=LAST;\n"
    )
    # When it is restored; Then it is refused in one line, and no target was made
    with pytest.raises(OperationError, match=rf"statement 2 \(line 2\) refused.*{later}\.t, qualified"):
        restore_dump_file(db_settings, str(path), target_database=target)
    assert schemas_like(db_settings, target) == []


def test_a_routine_writing_to_tables_in_parentheses_of_a_database_made_later_is_refused(
    db_settings, tmp_path
):
    # Given a dump whose procedure deletes and updates through parenthesized table references in a database
    # the server does not have yet: once one of that name exists, a CALL writes there, with its definer's
    # rights
    uid = uuid.uuid4().hex[:8]
    later, target = f"cbt_later_{uid}", f"cbt_conf_{uid}"
    path = tmp_path / "crafted.sql"
    path.write_text(
        "CREATE TABLE u (a int);\nDELIMITER ;;\n"
        f"CREATE PROCEDURE p() BEGIN DELETE x FROM (u, {later}.t AS x); UPDATE ({later}.t) SET a = 0; END;;\n"
        "DELIMITER ;\n"
    )
    # When it is restored; Then it is refused in one line, and no target was made
    with pytest.raises(OperationError, match=rf"statement 2 \(line 3\) refused.*{later}\.t, qualified"):
        restore_dump_file(db_settings, str(path), target_database=target)
    assert schemas_like(db_settings, target) == []


def test_a_dump_making_its_database_read_only_is_refused_before_anything_changes(db_settings, tmp_path):
    # Given a dump that ends by making the database it loads into read only (MySQL 8.0.22+): the restore's
    # staging database, which the swap then cannot move tables out of, nor a later restore drop
    uid = uuid.uuid4().hex[:8]
    target = f"cbt_conf_{uid}"
    path = tmp_path / "crafted.sql"
    path.write_text("CREATE TABLE t (a int);\nINSERT INTO t VALUES (1);\nALTER DATABASE READ ONLY = 1;\n")
    # When it is restored; Then it is refused in one line, and neither the target nor a staging one exists
    with pytest.raises(OperationError, match=r"statement 3 \(line 3\) refused.*read only"):
        restore_dump_file(db_settings, str(path), target_database=target)
    assert schemas_like(db_settings, target) == []


# Harmless to the server (a comment it skips), a command to the stock client: restored by hand, as README
# shows, `\u` moves every later statement into another database, `\!` runs a shell command on the
# operator's machine.
CLIENT_COMMANDS = {
    "use another database": "CREATE TABLE u (a int) /*!99999 \\u {other}\n*/;",
    "shell command": "CREATE TABLE u (a int) /*!99999 \\! touch /tmp/cbt_evil_{uid}\n*/;",
    "shell command in a hint's comment": "CREATE TABLE u (a int) /*+ \\! touch /tmp/cbt_evil_{uid}\n*/;",
}


@pytest.mark.parametrize("statement", CLIENT_COMMANDS.values(), ids=CLIENT_COMMANDS.keys())
def test_a_dump_holding_a_stock_client_command_is_refused_before_anything_changes(
    db_settings, victim, tmp_path, statement
):
    # Given a dump whose 4th statement the server would run harmlessly, but in which the stock client reads
    # a command of its own (the file a hand restore would also be given)
    uid = uuid.uuid4().hex[:8]
    path = tmp_path / "crafted.sql"
    path.write_text(PREFIX + statement.format(other=victim, uid=uid) + "\n" + SUFFIX)
    target = f"cbt_conf_{uid}"
    # When it is restored; Then it is refused in one line naming the statement, and no target was made
    with pytest.raises(OperationError, match=r"statement 4 \(line 4\) refused.*mysql client") as refused:
        restore_dump_file(db_settings, str(path), target_database=target)
    assert "\n" not in str(refused.value)
    assert schemas_like(db_settings, target) == []


def test_the_cli_refuses_with_exit_1_and_one_line(db_settings, victim, tmp_path):
    # Given a crafted dump that drops another database behind a comment
    path = tmp_path / "crafted.sql"
    path.write_text(PREFIX + f"DROP /**/ DATABASE `{victim}`;\n" + SUFFIX)
    target = f"cbt_conf_{uuid.uuid4().hex[:8]}"
    before = snapshot(db_settings, victim)
    # When the operator restores it with the command line
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "cloudbackup.cli.main",
            "restore",
            "--db-url",
            db_url(db_settings),
            "--backup",
            str(path),
            "--target-database",
            target,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    # Then exit 1, one line naming the statement, and nothing changed
    assert done.returncode == 1, done.stderr
    assert done.stderr.count("\n") == 1
    assert "statement 4 (line 4) refused" in done.stderr
    assert schemas_like(db_settings, target) == []
    assert snapshot(db_settings, victim) == before


def test_a_backup_holding_a_foreign_statement_is_refused_before_staging(
    db_settings, make_database, victim, tmp_path
):
    # Given a backup of a database with a trigger that writes into another database (made on the
    # server, as an attacker with rights on the source could)
    source = make_database("fsrc")
    run_sql(
        db_settings,
        source,
        "CREATE TABLE t (a int primary key)",
        f"CREATE TRIGGER tr AFTER INSERT ON t FOR EACH ROW INSERT INTO `{victim}`.t VALUES (NEW.a + 100)",
        "INSERT INTO t VALUES (1)",
    )
    entry = back_up(db_settings, source, tmp_path)
    before = snapshot(db_settings, victim)
    target = f"cbt_conf_{uuid.uuid4().hex[:8]}"
    # When it is restored; Then it is refused, naming the trigger's statement, and nothing changed
    with pytest.raises(
        OperationError, match=rf"backup {entry.manifest.id}: statement \d+ .*refused.*{victim}"
    ):
        restore_backup(db_settings, entry, target_database=target)
    assert schemas_like(db_settings, target) == []
    assert snapshot(db_settings, victim) == before


def test_a_trigger_created_with_a_qualified_name_restores_into_the_target(
    db_settings, make_database, tmp_path
):
    # Given a trigger created as `CREATE TRIGGER db.tr … ON db.t`
    source = make_database("qtr")
    run_sql(
        db_settings,
        source,
        "CREATE TABLE t (a int primary key)",
        f"CREATE TRIGGER `{source}`.tr BEFORE INSERT ON `{source}`.t FOR EACH ROW SET NEW.a = NEW.a + 1",
    )
    entry = back_up(db_settings, source, tmp_path)
    # When the backup is restored into another database
    target = make_database("qtt")
    run_sql(db_settings, target, f"DROP DATABASE `{target}`")
    restore_backup(db_settings, entry, target_database=target)
    # Then the trigger lives in the target (and fires there), the source keeps its own
    run_sql(db_settings, target, "INSERT INTO t VALUES (1)")
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT a FROM `{target}`.t")
        assert cur.fetchall() == ((2,),)
        cur.execute(
            "SELECT trigger_schema FROM information_schema.triggers WHERE trigger_name = 'tr' "
            "AND trigger_schema IN (%s, %s) ORDER BY trigger_schema",
            (source, target),
        )
        assert sorted(s for (s,) in cur.fetchall()) == sorted([source, target])


# --- real dumps are accepted whole -----------------------------------------------------------------


def dump_tool(settings, tool: str) -> list[str]:
    """mysqldump/mariadb-dump of the server under test (MySQL's own build for MySQL)."""
    args = mysql_client_args(settings)
    client = next(i for i, a in enumerate(args) if a.endswith("mysql"))
    program = args[client][: -len("mysql")] + tool if flavour(settings) == "mysql" else tool
    return [*args[:client], program, *args[client + 1 :]]


def accepted(sql: bytes, source: str | None = None) -> int:
    confinement = Confinement(
        where="dump", source=source, databases=frozenset({"prod"}), follow_sql_mode=True
    )
    return confinement.check_all(split_statements([sql], modes=confinement.modes))


@pytest.mark.parametrize("tool", ["mysqldump", "mariadb-dump"])
@pytest.mark.parametrize("flags", [[], ["--databases"], ["--skip-extended-insert", "--complete-insert"]])
def test_every_statement_of_a_stock_dump_of_sakila_is_accepted(db_settings, sakila_db, tool, flags):
    if tool == "mariadb-dump" and flavour(db_settings) == "mysql":
        pytest.skip("MySQL ships mysqldump only")
    sql = subprocess.run(
        [*dump_tool(db_settings, tool), "--routines", "--triggers", "--events", *flags, sakila_db],
        capture_output=True,
        check=True,
    ).stdout
    assert accepted(sql) > 20


def test_every_statement_of_our_backup_of_sakila_is_accepted(db_settings, sakila_db, tmp_path):
    entry = back_up(db_settings, sakila_db, tmp_path)
    confinement = Confinement(
        where="backup", source=sakila_db, databases=frozenset({"prod"}), follow_sql_mode=True
    )
    seen = []

    def check(_frame, sql):
        seen.append(
            confinement.check_all(
                split_statements(sql, first_number=confinement.next_number, modes=confinement.modes)
            )
        )

    verify_backup(entry, statements=check)
    assert sum(seen) > 20


def test_a_shop_backup_with_every_object_restores_under_the_check(db_settings, make_database, tmp_path):
    if flavour(db_settings) == "mysql":
        pytest.skip("the shop has a MariaDB sequence")
    source = make_database("cshop")
    make_shop(db_settings, source, rows=50)
    entry = back_up(db_settings, source, tmp_path)
    target = make_database("cshopt")
    run_sql(db_settings, target, f"DROP DATABASE `{target}`")
    result = restore_backup(db_settings, entry, target_database=target)
    assert result.rows > 50


# --- two lanes: big row statements read by a second process -------------------------------------------


@pytest.fixture
def two_lanes(monkeypatch):
    """The check before loading in two lanes whatever the input's size (see confine/lanes.py)."""
    monkeypatch.setattr(lane_start, "LANES_MIN_INPUT_BYTES", 0)
    monkeypatch.setattr(lane_start.os, "sched_getaffinity", lambda _pid: {0, 1})


def test_a_big_row_statement_the_second_lane_refuses_stops_the_restore_before_anything_changes(
    db_settings, victim, tmp_path, two_lanes
):
    # Given a dump whose big 4th statement hides a read of another database among its rows
    rows = ",".join(f"({i})" for i in range(10, lanes.LANE_MIN_BYTES // 4))
    path = tmp_path / "crafted.sql"
    path.write_text(f"{PREFIX}INSERT INTO t VALUES {rows},((SELECT MAX(a) FROM `{victim}`.t));\n{SUFFIX}")
    target = f"cbt_conf_{uuid.uuid4().hex[:8]}"
    before = snapshot(db_settings, victim)
    # When it is restored with the row statements checked in a second process
    with pytest.raises(OperationError, match=r"statement 4 \(line 4\) refused, it holds values other than"):
        restore_dump_file(db_settings, str(path), target_database=target)
    # Then nothing was created and the victim is as it was
    assert schemas_like(db_settings, target) == []
    assert snapshot(db_settings, victim) == before


def test_a_backup_checked_in_two_lanes_restores_whole(db_settings, make_database, tmp_path, two_lanes):
    # Given a backup of a table whose rows make statements big enough for the second lane
    source = make_database("clanes")
    run_sql(
        db_settings,
        source,
        "CREATE TABLE t (id int primary key, note text)",
        "INSERT INTO t SELECT seq, CONCAT('a \"quoted\" note; it''s at C:\\\\data\\\\', seq) FROM "
        + numbers(20_000),
    )
    entry = back_up(db_settings, source, tmp_path)
    assert max(f.raw_length for f in entry.manifest.frames) > lanes.LANE_MIN_BYTES
    target = make_database("clanest")
    run_sql(db_settings, target, f"DROP DATABASE `{target}`")
    # When it is restored; Then every row is back as it was
    restore_backup(db_settings, entry, target_database=target)
    assert_databases_equal(db_settings, source, target)


# --- system schemas -----------------------------------------------------------------------------------


@pytest.mark.parametrize("system", sorted(SYSTEM_DATABASES))
def test_restoring_into_a_system_schema_is_refused(db_settings, tmp_path, system):
    path = tmp_path / "t.sql"
    path.write_text("CREATE TABLE cbt_never (a int);\n")
    for in_place in (False, True):
        with pytest.raises(UsageError, match="system database"):
            restore_dump_file(db_settings, str(path), target_database=system, in_place=in_place)
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'cbt_never'")
        assert cur.fetchone()[0] == 0


# Names both servers refuse for a database: found only at the final swap, after the whole load, or as a
# driver error, before the check.
UNUSABLE_NAMES = {
    "65 characters": "cbt_" + "n" * 61,
    "a trailing space": "cbt_space ",
    "an emoji": "cbt_\U0001f600",
    "bytes that are not UTF-8": "cbt_\udcff",  # how Python hands over such a command-line argument
}


def all_schemas(settings) -> list[str]:
    with admin_connect(settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT schema_name FROM information_schema.schemata ORDER BY 1")
        return [row[0] for row in cur.fetchall()]


@pytest.mark.parametrize("name", UNUSABLE_NAMES.values(), ids=UNUSABLE_NAMES.keys())
def test_a_target_name_the_server_refuses_is_refused_before_anything_is_loaded(
    db_settings, make_database, tmp_path, name
):
    # Given a backup
    source = make_database("unusable")
    make_shop(db_settings, source, rows=50)
    entry = back_up(db_settings, source, tmp_path)
    before = all_schemas(db_settings)
    # When it is restored into a name the server would not take
    with pytest.raises(UsageError, match=r"^target database ") as refused:
        restore_backup(db_settings, entry, target_database=name)
    # Then one line says why, and no database was created meanwhile
    assert "\n" not in str(refused.value)
    assert all_schemas(db_settings) == before


def test_the_cli_refuses_an_unusable_target_name_with_exit_2(db_settings, tmp_path):
    path = tmp_path / "t.sql"
    path.write_text("CREATE TABLE cbt_never (a int);\n")
    done = subprocess.run(
        [sys.executable, "-m", "cloudbackup.cli.main", "restore", "--db-url", db_url(db_settings),
         "--backup", str(path), "--target-database", UNUSABLE_NAMES["65 characters"]],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1
    assert "is 65 characters long, and the server allows 64" in done.stderr


def test_the_cli_refuses_a_system_target_with_exit_2(db_settings, tmp_path):
    path = tmp_path / "t.sql"
    path.write_text("CREATE TABLE cbt_never (a int);\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "cloudbackup.cli.main",
            "restore",
            "--db-url",
            db_url(db_settings, "mysql"),
            "--backup",
            str(path),
            "--in-place",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1
    assert "system database" in done.stderr


def test_every_database_means_no_system_schema(db_settings):
    assert not {name.lower() for name in resolve_databases(db_settings, None)} & SYSTEM_DATABASES


def test_an_old_backup_whose_object_uses_its_database_restores_into_the_target(
    db_settings, make_database, tmp_path
):
    # Given a backup as made before the data object named no database: a first frame with
    # CREATE DATABASE IF NOT EXISTS + USE of the source (rebuilt here from a new backup)
    source = make_database("old")
    run_sql(db_settings, source, "CREATE TABLE t (a int primary key)", "INSERT INTO t VALUES (1), (2)")
    entry = back_up(db_settings, source, tmp_path)
    manifest = entry.manifest
    path = Path(entry.store.location(manifest.data.key))
    old_frame = zstandard.ZstdCompressor().compress(
        f"SET NAMES utf8mb4;\nCREATE DATABASE IF NOT EXISTS `{source}` CHARACTER SET {manifest.charset} "
        f"COLLATE {manifest.collation};\nUSE `{source}`;\n".encode()
    )
    data = old_frame + path.read_bytes()
    path.write_bytes(data)
    manifest = replace(
        manifest,
        frames=[Frame(kind="database", offset=0, length=len(old_frame))]
        + [replace(f, offset=f.offset + len(old_frame)) for f in manifest.frames],
        data=replace(manifest.data, size=len(data), sha256=hashlib.sha256(data).hexdigest()),
    )
    manifest_path = path.with_name(path.name.replace(".sql.zst", ".manifest.json"))
    manifest_path.write_bytes(manifest.to_json())
    old = find_backup([entry.store], manifest.id)
    run_sql(db_settings, source, "INSERT INTO t VALUES (3)")  # the live source moves on
    # When it is restored into another database
    target = make_database("oldt")
    run_sql(db_settings, target, f"DROP DATABASE `{target}`")
    restore_backup(db_settings, old, target_database=target)
    # Then the target has the backup's rows, and the source was not touched
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT a FROM `{target}`.t ORDER BY a")
        assert cur.fetchall() == ((1,), (2,))
        cur.execute(f"SELECT a FROM `{source}`.t ORDER BY a")
        assert cur.fetchall() == ((1,), (2,), (3,))


# A trigger hiding code in a string as the check reads it, and a row that fires it: (how the dump makes
# the server read quotes otherwise than the check, the dump's text).
DESYNCED = [
    (
        # gbk: 0xBF 0x5C is one character, so the server ends the string at the quote after it
        "client character set gbk",
        b"SET NAMES gbk;\nCREATE TABLE t (a int primary key, b varchar(100));\nDELIMITER ;;\n"
        b"CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.b = '\xbf\\'; "
        b"INSERT INTO `{other}`.t VALUES (NEW.a + 100); END -- '; END ;;\nDELIMITER ;\n"
        b"INSERT INTO t VALUES (5, 'y');\n",
    ),
    (
        # ANSI_QUOTES taken back in a comment the server skips: "{other}" is a name there
        "sql_mode in a skipped comment",
        b"SET NAMES utf8mb4;\nSET sql_mode = 'ANSI_QUOTES' /*!999999 , sql_mode = '' */;\n"
        b"CREATE TABLE t (a int primary key, b varchar(100));\n"
        b'CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW INSERT INTO "{other}".t VALUES (NEW.a + 100);\n'
        b"INSERT INTO t VALUES (5, 'y');\n",
    ),
    (
        # under ANSI_QUOTES "c\" is a whole name: a name holds no backslash escapes (the target would
        # get a copy of the other database's rows)
        "name in double quotes ending in a backslash",
        b"SET NAMES utf8mb4;\nSET sql_mode = 'ANSI_QUOTES';\n"
        b"CREATE TABLE t (a int primary key, b varchar(100));\n"
        b'CREATE TABLE "c\\" AS SELECT a FROM `{other}`.t -- "\n;\nINSERT INTO t VALUES (5, \'y\');\n',
    ),
    (
        # without backslash escapes, @'x\' is a whole user variable's name
        "user variable named in quotes ending in a backslash",
        b"SET NAMES utf8mb4;\nSET sql_mode = 'NO_BACKSLASH_ESCAPES';\n"
        b"CREATE TABLE t (a int primary key, b varchar(100));\nDELIMITER ;;\n"
        b"CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW BEGIN SET @'x\\' = 1; "
        b"INSERT INTO `{other}`.t VALUES (NEW.a + 100); END -- ' = 1; END\n;;\nDELIMITER ;\n"
        b"INSERT INTO t VALUES (5, 'y');\n",
    ),
    (
        # MariaDB's sql_mode MSSQL quotes names in brackets: [c'] is a name, not the start of a text
        # (MySQL has no such mode, and refuses to set it)
        "names in brackets",
        b"SET NAMES utf8mb4;\nSET sql_mode = 'MSSQL';\nCREATE TABLE t (a int primary key, b varchar(100));\n"
        b"CREATE TABLE [c'] AS SELECT a FROM `{other}`.t -- ']\n;\nINSERT INTO t VALUES (5, 'y');\n",
    ),
    (
        # 0xA0 is a space to a latin1 session: `SELECT a FROM db.t`, not one word before `.t`
        "latin1 no-break space",
        b"SET NAMES latin1;\nCREATE TABLE t (a int primary key, b varchar(100));\n"
        b"CREATE TABLE c SELECT\xa0a\xa0FROM\xa0{other}.t;\nINSERT INTO t VALUES (5, 'y');\n",
    ),
]


@pytest.mark.parametrize(("case", "text"), DESYNCED, ids=[c for c, _ in DESYNCED])
def test_a_dump_that_makes_the_server_read_quotes_otherwise_is_refused_before_anything_changes(
    db_settings, victim, tmp_path, case, text
):
    # Given a dump that makes the server read its quotes otherwise than the check would, so that a
    # trigger writing into another database looks like text to the check
    path = tmp_path / "desynced.sql"
    path.write_bytes(text.replace(b"{other}", victim.encode()))
    target = f"cbt_conf_{uuid.uuid4().hex[:8]}"
    before = snapshot(db_settings, victim)
    # When it is restored into a new target
    with pytest.raises(OperationError, match=r"statement \d+ \(line \d+\) refused") as refused:
        restore_dump_file(db_settings, str(path), target_database=target)
    # Then it is refused in one line before anything is loaded, and the victim is as it was
    assert "\n" not in str(refused.value)
    assert schemas_like(db_settings, target) == []
    assert snapshot(db_settings, victim) == before


def test_a_set_reading_a_variable_a_trigger_changed_stops_the_load(db_settings, victim, tmp_path):
    # Given a dump whose trigger, fired by its rows on a row connection, changes a user variable that a
    # later SET of sql_mode reads: the check (like the first connection) reads backslash escapes on,
    # the row connection then has them off, so a row of "literals" there reads another database
    path = tmp_path / "trigger_set.sql"
    path.write_bytes(
        b"SET @m = '';\nCREATE TABLE t (a varchar(255), b text, c bit(8));\n"
        b"CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET @m = 'NO_BACKSLASH_ESCAPES';\n"
        b"INSERT INTO t VALUES ('x', 'y', 1);\nSET sql_mode = @m;\n"
        b"INSERT INTO t VALUES ('a\\', (SELECT MAX(a) FROM `" + victim.encode() + b"`.t), 1) -- ');\n"
    )
    target = f"cbt_conf_{uuid.uuid4().hex[:8]}"
    # When it is restored (on one row connection, so that the rows and the SET meet there)
    with pytest.raises(OperationError, match=r"statement 5 .*row connection") as stopped:
        restore_dump_file(db_settings, str(path), target_database=target, jobs=1)
    # Then the load stops in one line at that SET, and nothing is published
    assert "\n" not in str(stopped.value)
    assert schemas_like(db_settings, target) == []
