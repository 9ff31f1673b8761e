"""The restore allow-list as properties: whatever is generated outside it is refused, and what dumps
write is accepted (the real dumps of sakila: tests/integration/test_restore_confinement.py)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudbackup.confine.check import _VALUES, Confinement, Refused
from cloudbackup.errors import CloudBackupError, UsageError
from cloudbackup.mysql.splitter import Statement, split_statements

OTHER = "prod"

# Statement kinds a dump never contains.
FOREIGN_HEADS = [
    "GRANT ALL ON *.* TO x",
    "REVOKE ALL ON *.* FROM x",
    "CALL p()",
    "HANDLER t OPEN",
    "LOAD DATA INFILE '/etc/passwd' INTO TABLE t",
    "LOAD XML INFILE 'x' INTO TABLE t",
    "EXECUTE IMMEDIATE 'DROP TABLE t'",
    "PREPARE s FROM 'DROP TABLE t'",
    "EXECUTE s",
    "KILL 1",
    "SHUTDOWN",
    "FLUSH PRIVILEGES",
    "INSTALL PLUGIN p SONAME 'p.so'",
    "UNINSTALL PLUGIN p",
    "RENAME TABLE t TO u",
    "TRUNCATE TABLE t",
    "UPDATE t SET a = 1",
    "DELETE FROM t",
    "SELECT * FROM t INTO OUTFILE '/tmp/x'",
    "SELECT 1",
    "INSERT INTO t SELECT * FROM u",
    "REPLACE INTO t SELECT * FROM u",
    "INSERT INTO t VALUES (1) ON DUPLICATE KEY UPDATE a = 2",
    "CHANGE MASTER TO MASTER_HOST = 'x'",
    "PURGE BINARY LOGS BEFORE NOW()",
    "RESET MASTER",
    "BINLOG 'AAAA'",
    "DO SLEEP(1)",
    "CREATE USER x",
    "DROP USER x",
    "ALTER USER x IDENTIFIED BY 'y'",
    "SET PASSWORD = 'x'",
    "SET GLOBAL max_connections = 5",
    "SET PERSIST max_connections = 5",
    "SET @@GLOBAL.max_connections = 5",
    "SET @@GLOBAL.GTID_PURGED = 'x', max_connections = 5",
    "SET GLOBAL sql_log_bin = 0",
    "SET ROLE ALL",
    "CREATE SERVER s FOREIGN DATA WRAPPER mysql OPTIONS (HOST 'x')",
    "CREATE DATABASE other",
    "DROP DATABASE other",
    "ALTER DATABASE other CHARACTER SET latin1",
    "USE other",
    "CREATE TABLESPACE ts ADD DATAFILE 'x.ibd'",
    "CREATE TABLE t (a int) DATA DIRECTORY = '/tmp'",
    "CREATE TABLE t (a int) ENGINE = FEDERATED CONNECTION = 'mysql://u@h/d/t'",
    "CREATE TABLE t SELECT * FROM u",
    "CREATE PROCEDURE p() BEGIN PREPARE s FROM @x; EXECUTE s; END",
    "CREATE PROCEDURE p() BEGIN DROP DATABASE x; END",
    "CREATE PROCEDURE p() BEGIN GRANT ALL ON *.* TO x; END",
    "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET GLOBAL max_connections = 1",
    "CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO SELECT LOAD_FILE('/etc/passwd') INTO @x",
    "XA START 'x'",
    "SAVEPOINT s",
    "CHECKSUM TABLE t",
    "OPTIMIZE TABLE t",
    "ANALYZE TABLE t",
    "CACHE INDEX t IN c",
]

# Where an object name stands in statements a dump does write: {} is replaced by a qualified name.
NAME_PLACES = [
    "CREATE TABLE {} (a int)",
    "CREATE TABLE t (a int, FOREIGN KEY (a) REFERENCES {} (a))",
    "DROP TABLE IF EXISTS {}",
    "DROP TABLE IF EXISTS t, {}",
    "INSERT INTO {} VALUES (1)",
    "REPLACE INTO {} (a) VALUES (1)",
    "LOCK TABLES {} WRITE",
    "ALTER TABLE t RENAME TO {}",
    "ALTER TABLE {} DISABLE KEYS",
    "CREATE VIEW {} AS SELECT 1",
    "CREATE VIEW v AS SELECT a FROM {}",
    "CREATE VIEW v AS SELECT a FROM t JOIN {} USING (a)",
    "CREATE TRIGGER {} BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1",
    "CREATE TRIGGER tr BEFORE INSERT ON {} FOR EACH ROW SET NEW.a = 1",
    "CREATE TRIGGER tr AFTER INSERT ON t FOR EACH ROW INSERT INTO {} VALUES (NEW.a)",
    "CREATE TRIGGER tr AFTER DELETE ON t FOR EACH ROW DELETE FROM {} WHERE a = OLD.a",
    "CREATE TRIGGER tr AFTER UPDATE ON t FOR EACH ROW UPDATE {} SET a = NEW.a",
    "CREATE PROCEDURE {}() SELECT 1",
    "CREATE PROCEDURE p() BEGIN CALL {}(1); END",
    "CREATE PROCEDURE p() BEGIN CALL {}; END",
    "CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO CALL {}",
    "CREATE FUNCTION f() RETURNS int RETURN (SELECT COUNT(*) FROM {})",
    "CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO DELETE FROM {}",
    "CREATE SEQUENCE {}",
    "CREATE TABLE t (a int DEFAULT NEXTVAL({}))",
    "SELECT SETVAL({}, 5)",
]

# Session variables a dump never sets (server-wide, or changing what the restore writes elsewhere).
FOREIGN_VARIABLES = ["max_connections", "gtid_mode", "read_only", "general_log", "init_connect"]


def check(sql: bytes, *, databases=frozenset({OTHER})) -> None:
    confinement = Confinement(where="f.sql", source="src", databases=databases)
    confinement.check_all(split_statements([sql], modes=confinement.modes))


def refused(sql: str | bytes) -> bool:
    try:
        check(sql.encode() if isinstance(sql, str) else sql)
    except (Refused, UsageError):  # UsageError: a second database in one file
        return True
    return False


@st.composite
def obscured(draw, words: str) -> str:
    """`words` as a tired operator or an attacker might write them: any case, comments between words,
    all of it inside a conditional comment or not."""
    parts = words.split(" ")
    gaps = st.sampled_from([" ", "  ", "\n", "/**/", " /* x */ ", "\t", " -- c\n", " # c\n"])
    out = parts[0]
    for part in parts[1:]:
        out += draw(gaps) + part
    out = (
        "".join(c.upper() if draw(st.booleans()) else c.lower() for c in out) if draw(st.booleans()) else out
    )
    if draw(st.booleans()):
        out = f"/*!{draw(st.sampled_from(['', '40101', '50003', '99999']))} {out} */"
    return out


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_statements_outside_the_list_are_always_refused(data):
    statement = data.draw(obscured(data.draw(st.sampled_from(FOREIGN_HEADS))))
    assert refused(f"SET NAMES utf8mb4;\n{statement};\n")


@st.composite
def qualified_name(draw) -> str:
    db = draw(st.sampled_from([OTHER, f"`{OTHER}`", OTHER.upper(), "mysql", "`sys`", "src", "newdb"]))
    table = draw(st.sampled_from(["t", "`t`", "`x y`", "user"]))
    dot = draw(st.sampled_from([".", " . ", "/**/./**/", "\n.\n"]))
    return db + dot + table


@settings(max_examples=300, deadline=None)
@given(place=st.sampled_from(NAME_PLACES), name=qualified_name())
def test_a_name_qualified_with_a_database_is_always_refused(place, name):
    assert refused(place.format(name) + ";\n")


@settings(max_examples=100, deadline=None)
@given(
    variable=st.sampled_from(FOREIGN_VARIABLES),
    form=st.sampled_from(["SET {} = 1", "SET SESSION {} = 1", "SET @@{} = 1", "SET @@session.{} = 1"]),
    scope=st.sampled_from(["SET GLOBAL {} = 1", "SET @@global.{} = 1", "SET PERSIST {} = 1"]),
)
def test_a_variable_outside_the_list_or_any_global_is_refused(variable, form, scope):
    assert refused(form.format(variable) + ";")
    assert refused(scope.format("foreign_key_checks") + ";")


# Values as dumps write them: every byte escaped as mysqldump (and our backup) escape it.
def sql_literal(value: bytes) -> bytes:
    escaped = (
        value.replace(b"\\", b"\\\\")
        .replace(b"'", b"\\'")
        .replace(b"\0", b"\\0")
        .replace(b"\r", b"\\r")
        .replace(b"\n", b"\\n")
        .replace(b"\x1a", b"\\Z")
    )
    return b"'" + escaped + b"'"


values = st.one_of(
    st.binary(max_size=40).map(sql_literal),
    st.binary(max_size=20).map(lambda b: b"_binary " + sql_literal(b)),
    st.binary(max_size=20).map(lambda b: b"X'" + b.hex().encode() + b"'"),
    st.binary(min_size=1, max_size=20).map(lambda b: b"0x" + b.hex().encode()),
    st.integers().map(lambda n: str(n).encode()),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda f: repr(f).encode()),
    st.just(b"NULL"),
    st.sampled_from([b"b'0101'", b"_latin1 X'e9'", b"-0", b"1e-7", b"DEFAULT"]),
)


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.lists(values, min_size=1, max_size=5), min_size=1, max_size=5))
def test_rows_of_literals_are_accepted_whatever_their_bytes(rows):
    body = b",".join(b"(" + b",".join(row) + b")" for row in rows)
    check(b"INSERT INTO `t` VALUES " + body + b";\n")


# How the check read a values list before it had one pattern for it: the strings split out (escape
# pairs only count inside them: a backslash outside a string is no literal), the rest matched. The
# one pattern must give the same verdict on anything.
_COMPACTED = re.compile(
    rb"(?:[\s,()+0-9.']++|-(?!-)|(?<=[0-9.])[eE][-+]?[0-9]++|(?<=0)[xX][0-9A-Fa-f]*+|(?<=0)[bB][01]*+"
    rb"|(?i:NULL|DEFAULT|TRUE|FALSE)(?![0-9A-Za-z_$])|_[0-9A-Za-z]++(?=[\s'])|[xXbBnN](?='))*+"
)


_STRING = re.compile(rb"'[^'\\]*+(?:\\[\s\S][^'\\]*+)*+'")


def compacted_verdict(tail: bytes) -> bool:
    code = _STRING.sub(b"''", tail)
    return b"'" not in code.replace(b"''", b"") and _COMPACTED.fullmatch(code) is not None


def accepts(tail: bytes) -> bool:
    """Whether the check lets `INSERT INTO t VALUES` + `tail` run."""
    try:
        Confinement(where="f.sql").check(Statement(1, 1, b"INSERT INTO t VALUES" + tail))
    except Refused:
        return False
    return True


hostile = st.sampled_from(
    [b"'", b"\\", b"\\'", b"''", b"SELECT", b"@a", b"a", b"e5", b"0x", b"x", b"NULLx", b"-- ", b"-", b"--",
     b"_utf8", b"_utf8 ", b"N", b"b", b"(", b")", b",", b";", b"`t`", b"1e", b"0b2", b"\x00", b"/*", b"#"]
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(parts=st.lists(st.one_of(values, hostile), min_size=1, max_size=12))
def test_a_values_list_gets_the_verdict_it_got_when_its_strings_were_split_out(parts):
    tail = b" " + b"".join(parts)
    if b'"' in tail:
        return  # read by the careful pattern, as before
    assert accepts(tail) == compacted_verdict(tail)


@pytest.mark.parametrize("tail", [b" (1)\\\\", b" (1,\\'a')", b" (1\\\\)", b" \\'a'"])
def test_a_backslash_outside_the_strings_is_refused_before_loading(tail):
    # Given a row statement with an escape pair where no string is (the server would stop on it)
    # When it is checked; Then it is refused up front, not left for the server to fail on
    assert not accepts(tail)
    assert accepts(tail.replace(b"\\", b""))  # the same list without it is fine


double_quoted = st.sampled_from([b'"', b'\\"', b'"a"', b"'\"'", b"'a\"b'", b'"\'"', b'"\\\'"', b'""'])


@settings(max_examples=500, deadline=None)
@given(parts=st.lists(st.one_of(values, hostile, double_quoted), min_size=1, max_size=12))
def test_a_values_list_with_double_quotes_gets_the_careful_patterns_verdict(parts):
    # A `"` inside a '…' string is only text (QUOTE() leaves it raw there): the list is read as one
    # without double quotes; a `"` outside opens a string only the careful pattern reads
    tail = b" " + b"".join(parts)
    if b'"' not in tail:
        return  # the test above
    assert accepts(tail) == (compacted_verdict(tail) or _VALUES[(True, False)].fullmatch(tail) is not None)


@pytest.mark.parametrize(
    "sql",
    [
        b"/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */",
        b"/*M!100616 SET @OLD_NOTE_VERBOSITY=@@NOTE_VERBOSITY, NOTE_VERBOSITY=0 */",
        b"/*!50503 SET NAMES utf8mb4 */",
        b"/*!40000 DROP DATABASE IF EXISTS `src`*/",
        b"CREATE DATABASE /*!32312 IF NOT EXISTS*/ `src` /*!40100 DEFAULT CHARACTER SET utf8mb4 */",
        b"USE `src`",
        b"LOCK TABLES `t` WRITE",
        b"/*!40000 ALTER TABLE `t` DISABLE KEYS */",
        b"UNLOCK TABLES",
        b"set autocommit=0",
        b"commit",
        b"/*!50001 CREATE ALGORITHM=UNDEFINED */ /*!50013 DEFINER=`root`@`localhost` SQL SECURITY DEFINER */"
        b" /*!50001 VIEW `v` AS select `a`.`id` AS `id` from (`t` `a` join `u` on(`a`.`id` = `u`.`id`)) */",
        b"CREATE DEFINER=root@localhost TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.a = t2.x",
        b"EXECUTE IMMEDIATE 'CREATE PROCEDURE p()\\nBEGIN\\n  -- a comment\\n  SELECT 1;\\nEND'",
        b"SELECT SETVAL(`s`, 1001, 0)",
        b"DELIMITER ;;\nCREATE PROCEDURE p() BEGIN DECLARE CONTINUE HANDLER FOR NOT FOUND SET @done = 1; "
        b"END;;\nDELIMITER ",
        b"ALTER DATABASE COLLATE utf8mb4_bin",
        b"CREATE TABLE `t` (`a` int DEFAULT nextval(`src`.`seq`))",  # SHOW CREATE qualifies its own
        b"DROP PACKAGE IF EXISTS `pkg`",
        # programs calling the database's own procedures (the CALL runs later, in the target)
        b"DELIMITER ;;\nCREATE PROCEDURE p() BEGIN CALL q(1); CALL `r`; END;;\nDELIMITER ",
        b"CREATE TRIGGER tr AFTER INSERT ON t FOR EACH ROW CALL log_row(NEW.a)",
        b"CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO CALL cleanup()",
        # the database frame of backups made before the data object named no database
        b"SET NAMES utf8mb4;\n"
        b"CREATE DATABASE IF NOT EXISTS `src` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;\nUSE `src`",
        # mysqldump on a server with GTIDs (skipped, never run)
        b"SET @MYSQLDUMP_TEMP_LOG_BIN = @@SESSION.SQL_LOG_BIN;\nSET @@SESSION.SQL_LOG_BIN= 0;\n"
        b"SET @@GLOBAL.GTID_PURGED=/*!80000 '+'*/ '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5';\n"
        b"SET @@SESSION.SQL_LOG_BIN = @MYSQLDUMP_TEMP_LOG_BIN",
    ],
)
def test_what_dumps_write_is_accepted(sql):
    check(sql + b";\n")


def follow(sql: bytes) -> int:
    confinement = Confinement(where="f.sql", source="src", follow_sql_mode=True)
    return confinement.check_all(split_statements([sql], modes=confinement.modes))


def test_the_check_reads_quotes_as_the_dumps_sql_mode_says():
    # Under NO_BACKSLASH_ESCAPES 'a\' is a whole string; after the old mode is back, \' escapes again
    sql = (
        b"SET @OLD=@@SQL_MODE, SQL_MODE='NO_BACKSLASH_ESCAPES';\nINSERT INTO t VALUES ('a\\');\n"
        b"SET SQL_MODE=@OLD;\nINSERT INTO t VALUES ('b\\'c');\n"
    )
    assert follow(sql) == 4


def test_a_sql_mode_known_only_at_run_time_is_refused():
    with pytest.raises(Refused, match=r"statement 2 .*sql_mode"):
        follow(b"SET @m = CONCAT('NO_BACK', 'SLASH_ESCAPES');\nSET sql_mode = @m;\n")


@pytest.mark.parametrize(
    "sql",
    [
        b"SET NAMES gbk;\n",
        b"/*!40101 SET NAMES sjis */;\n",
        b"SET CHARACTER SET big5;\n",
        b"SET @@session.character_set_client = 'cp932';\n",
        b"SET @cs = 'gb18030';\nSET character_set_client = @cs;\n",
        b"SET @cs = CONCAT('g', 'bk');\nSET character_set_client = @cs;\n",
        b"SET character_set_client = 28;\n",
    ],
)
def test_a_client_character_set_where_a_backslash_ends_a_character_is_refused(sql):
    # Given a dump that switches the client to a character set where a backslash byte can be the second
    # byte of a character (the server then ends 'X\' where the check reads on: code hides in a string)
    # When it is checked before loading; Then it is refused, at the statement that sets it
    with pytest.raises(Refused, match=r"client character set"):
        follow(sql + b"CREATE TABLE t (a int);\n")


def test_the_client_character_set_saved_and_put_back_by_dumps_is_accepted():
    sql = (
        b"/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;\n/*!40101 SET NAMES utf8mb4 */;\n"
        b"SET @saved_cs_client = @@character_set_client;\n/*!50503 SET character_set_client = latin1 */;\n"
        b"SET character_set_client = @saved_cs_client;\n"
        b"SET @cb_saved_character_set_client = @@character_set_client, @cb_saved_sql_mode = @@sql_mode;\n"
        b"SET character_set_client = utf8mb3, sql_mode = '';\n"
        b"SET character_set_client = @cb_saved_character_set_client, sql_mode = @cb_saved_sql_mode;\n"
        b"/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */;\n"
    )
    assert follow(sql) == 9


def test_a_sql_mode_set_in_a_conditional_comment_is_followed_as_the_server_runs_it():
    # Given a dump that sets ANSI_QUOTES, then takes it back in a comment the server skips
    sql = (
        b"SET sql_mode = 'ANSI_QUOTES' /*!999999 , sql_mode = '' */;\n"
        b'CREATE VIEW v AS SELECT a FROM "prod".t;\n'
    )
    # When it is checked for a server that skips that comment; Then "prod" is read as a name: refused
    skips = Confinement(where="f.sql", source="src", follow_sql_mode=True, runs=lambda opener: False)
    with pytest.raises(Refused, match=r"statement 2 .*prod\.t, qualified"):
        skips.check_all(split_statements([sql], modes=skips.modes))
    # and for a server that runs it, as a string, as the server will
    ran = Confinement(where="f.sql", source="src", follow_sql_mode=True, runs=lambda opener: True)
    assert ran.check_all(split_statements([sql], modes=ran.modes)) == 2


@pytest.mark.parametrize(
    ("sql", "is_refused"),
    [
        ("CREATE TABLE t (id int) /*!50100 TABLESPACE `innodb_file_per_table` */ ENGINE=InnoDB", False),
        ("CREATE TABLE t (a int) PARTITION BY KEY (a) (PARTITION b TABLESPACE=innodb_file_per_table)", False),
        ("CREATE TABLE t (id int) /*!50100 TABLESPACE `ts1` */ ENGINE=InnoDB", True),
        ("CREATE TABLE t (id int) TABLESPACE innodb_system", True),
        ("ALTER TABLE t DISCARD TABLESPACE", True),
        ("ALTER TABLE t TABLESPACE innodb_file_per_table", True),
        ("CREATE TABLESPACE innodb_file_per_table ADD DATAFILE 'x.ibd'", True),
    ],
)
def test_only_a_tables_own_file_tablespace_is_allowed(sql, is_refused):
    # Given a CREATE TABLE naming the table's own file as its tablespace, or anything else on tablespaces
    # When it is checked; Then only the own file is accepted: other tablespaces are the server's
    assert refused(sql + ";\n") is is_refused


def test_a_conditional_comment_is_read_on_past_a_quoted_end_only_where_the_server_runs_it():
    # Given a stock dump's trigger: its body, in a conditional comment, holds `*/` in a string and a comment
    sql = (
        b"/*!50003 CREATE*/ /*!50003 TRIGGER tr BEFORE INSERT ON t FOR EACH ROW"
        b" SET NEW.a = '*/ x' /* c */ -- d */\n */;;\n"
    )
    # When it is checked for a server that skips such comments (or says nothing); Then it is refused: that
    # server ends the comment at the first `*/`
    for runs in (lambda opener: False, None):
        skips = Confinement(where="f.sql", source="src", runs=runs)
        with pytest.raises(Refused, match=r"statement 1 .*ends inside quoted text"):
            skips.check_all(split_statements([b"DELIMITER ;;\n" + sql], modes=skips.modes))
    # and for one that runs them, it is read as that server reads it, to the `*/` after the comments
    ran = Confinement(where="f.sql", source="src", runs=lambda opener: True)
    assert ran.check_all(split_statements([b"DELIMITER ;;\n" + sql], modes=ran.modes)) == 1
    # where a body naming another database is still refused
    other = sql.replace(b"SET NEW.a =", f"INSERT INTO {OTHER}.t VALUES".encode())
    with pytest.raises(Refused, match=r"qualified"):
        ran.check_all(split_statements([b"DELIMITER ;;\n" + other], modes=ran.modes))


def test_a_conditional_comment_the_server_cannot_read_in_a_set_is_refused():
    checker = Confinement(where="f.sql", source="src", follow_sql_mode=True, runs=lambda opener: None)
    with pytest.raises(Refused, match=r"statement 1 .*conditional comment"):
        checker.check_all(split_statements([b"SET sql_mode = '' /*!1234567 , sql_mode = 'ANSI' */;\n"]))


@pytest.mark.parametrize(
    "body",
    [
        "INSERT later.t VALUES (1)",
        "INSERT IGNORE later.t VALUES (1)",
        "REPLACE later.t VALUES (1)",
        "UPDATE LOW_PRIORITY later.t SET a = 1",
        "DELETE QUICK later.t FROM later.t",
        "ALTER TABLE t RENAME later.t",
        "ALTER TABLE t RENAME AS later.t",
        "SELECT COUNT(*) INTO @n FROM t, later.t",
        "UPDATE t, later.t x SET t.a = x.a",
        "DELETE x FROM t x, later.t y WHERE x.a = y.a",
        "DELETE FROM x USING t x, later.t y WHERE x.a = y.a",
        "SELECT 1 FROM t JOIN u ON t.a = u.a, later.t",
        "DROP TABLE t, later.t",
        # (tables in parentheses: a table list all the same)
        "SELECT * FROM (later.t)",
        "SELECT * FROM ((t, later.t))",
        "SELECT * FROM t LEFT JOIN (u, later.t) ON 1",
        "SELECT * FROM t, (later.t)",
        "DELETE x FROM (u, later.t AS x)",
        "UPDATE (later.t) SET a = 0",
        "DELETE FROM x USING (u, (v, later.t AS x))",
    ],
)
def test_a_body_naming_a_database_the_server_has_not_yet_is_refused(body):
    # Given a routine whose body writes into a database that does not exist yet (it runs later, with its
    # definer's rights, when one of that name may exist)
    sql = f"DELIMITER ;;\nCREATE PROCEDURE p() BEGIN {body}; END;;\nDELIMITER ;\n".encode()
    # When it is checked; Then it is refused, naming the qualified name
    with pytest.raises(Refused, match=r"later\.t, qualified with a database"):
        follow(sql)


@pytest.mark.parametrize(
    "body",
    [
        "SELECT t.a, u.b INTO @a, @b FROM t JOIN u ON t.a = u.a",
        "UPDATE t, u SET t.a = u.a, t.b = u.b WHERE t.id = u.id",
        "SELECT t.a FROM t GROUP BY t.a, t.b ORDER BY t.a, t.b",
        "INSERT INTO t (a, b) SELECT x.a, x.b FROM t AS x",
        "SELECT IF(t.a, t.b, t.c) FROM t",
        "SELECT * FROM (t JOIN u ON t.a = u.a) WHERE t.a IN (1, u.b)",
        "SELECT j.a FROM t, JSON_TABLE(t.doc, '$[*]' COLUMNS (a int PATH '$')) AS j",
        "SELECT * FROM (SELECT t.a, t.b FROM t) AS x",
    ],
)
def test_columns_named_with_their_table_after_a_comma_are_accepted(body):
    # Given a routine naming columns with their table in comma lists (select lists, SET, GROUP BY …)
    sql = f"DELIMITER ;;\nCREATE PROCEDURE p() BEGIN {body}; END;;\nDELIMITER ;\n".encode()
    # When it is checked; Then it is accepted: only a table list's comma is followed by a table
    assert follow(sql) == 1


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE TABLE m (a int) ENGINE=MRG_MyISAM UNION=(later.t)",
        "CREATE TABLE m (a int) ENGINE=MRG_MyISAM UNION = ( t , later.t ) INSERT_METHOD=LAST",
        "CREATE TABLE m (a int) ENGINE=MRG_MyISAM UNION (`t`, `later`.`t`)",
        "ALTER TABLE m UNION=(t, later.t)",
    ],
)
def test_a_merge_table_over_a_database_the_server_has_not_yet_is_refused(sql):
    # Given a MERGE table over a table of a database that does not exist yet (once one of that name
    # does, the table in the target reads its rows and inserts into it)
    # When it is checked; Then it is refused, naming the qualified name
    with pytest.raises(Refused, match=r"later\.`?t`?, qualified with a database"):
        follow(f"{sql};\n".encode())


def test_a_merge_table_over_its_own_databases_tables_is_accepted():
    # Given a MERGE table as SHOW CREATE TABLE writes it, and a query with a UNION of its own tables
    sql = (
        b"CREATE TABLE `m` (`a` int) ENGINE=MRG_MyISAM DEFAULT CHARSET=utf8mb4 INSERT_METHOD=LAST "
        b"UNION=(`t1`,`t2`);\nCREATE VIEW v AS SELECT t1.a FROM t1 UNION (SELECT t2.a FROM t2);\n"
    )
    # When it is checked; Then it is accepted
    assert follow(sql) == 2


@pytest.mark.parametrize("after", [b"\x01", b"\x08", b"\x1f", b"\x7f"], ids=repr)
def test_a_dash_dash_before_a_control_character_is_refused_the_client_reads_code_there(after):
    # Given a trigger whose `--` is followed by a control character (a comment to the server, up to the
    # end of the line) and then a quote, as if a text hid the line that follows
    sql = (
        b"DELIMITER ;;\nCREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW BEGIN --" + after + b" '\n"
        b"SET @@global.max_connections = 1;\n-- '\nEND;;\nDELIMITER ;\n"
    )
    # When it is checked; Then it is refused: the server reads a comment there, the stock client code
    with pytest.raises(Refused, match=r"`--` before a control character"):
        follow(sql)


@pytest.mark.parametrize(
    "body",
    [
        "SET SESSION binlog_format = 'STATEMENT'",
        "SET @@binlog_row_image = 'MINIMAL'",
        "SET @@session.binlog_format = 'MIXED'",
        "SET wsrep_on = 0",
    ],
)
def test_a_body_changing_how_the_callers_writes_are_logged_is_refused(body):
    # Given a procedure setting how the session's writes are logged: the caller's session keeps it, and its
    # later writes to any database are logged as statements, which no point-in-time restore replays
    sql = f"CREATE PROCEDURE p() {body};\n".encode()
    # When it is checked; Then it is refused
    with pytest.raises(Refused, match=r"statement 1 .*changes what replication sees"):
        follow(sql)


@pytest.mark.parametrize(
    "body",
    [
        "SHOW FULL PROCESSLIST",
        "SHOW TABLE STATUS FROM victim",
        "SHOW TABLES IN victim",
        "SHOW ENGINE INNODB STATUS",
        "SHOW RELAYLOG EVENTS",
        "SHOW GRANTS FOR root@localhost",
        "BEGIN SELECT 1; SHOW DATABASES; END",
    ],
)
def test_a_procedure_showing_the_server_is_refused(body):
    # Given a procedure whose SHOW reads the server beyond its database: it runs with its definer's rights
    # (root, kept by a restore as root) for whoever may call it
    sql = f"DELIMITER ;;\nCREATE DEFINER=root@localhost PROCEDURE p() {body};;\nDELIMITER ;\n".encode()
    # When it is checked; Then it is refused
    with pytest.raises(Refused, match=r"statement 1 .*uses SHOW"):
        follow(sql)


def test_a_procedure_showing_its_own_diagnostics_is_accepted():
    # Given a procedure that shows its session's warnings and errors
    sql = (
        b"DELIMITER ;;\nCREATE PROCEDURE p() BEGIN SHOW WARNINGS; SHOW ERRORS; SHOW COUNT(*) WARNINGS;\n"
        b"END;;\nDELIMITER ;\n"
    )
    # When it is checked; Then it is accepted
    assert follow(sql) == 1


@pytest.mark.parametrize(
    "sql",
    [b"ALTER DATABASE READ ONLY = 1;\n", b"ALTER SCHEMA COLLATE utf8mb4_bin /*!80022 READ ONLY 1 */;\n"],
)
def test_a_database_made_read_only_is_refused(sql):
    # Given MySQL's ALTER DATABASE … READ ONLY of the current database (the restore's staging one)
    # When it is checked; Then it is refused
    with pytest.raises(Refused, match=r"statement 1 .*read only"):
        follow(sql)


def test_a_routines_own_collation_around_its_create_is_accepted():
    # Given the ALTER DATABASE COLLATE a backup writes around a routine created under another collation
    sql = (
        b"ALTER DATABASE COLLATE latin1_swedish_ci;\n"
        b"ALTER DATABASE CHARACTER SET = utf8mb4 COLLATE utf8mb4_bin;\n"
    )
    # When it is checked; Then both are accepted
    assert follow(sql) == 2


# Statements the server runs as harmless (a comment, or a conditional one it skips), in which the stock client
# reads a command of its own: restored by hand (`zstd -dc F | mysql copy`), it would run a shell command or
# move every later statement into another database.
CLIENT_COMMANDS = {
    "shell in a skipped conditional comment": b"CREATE TABLE t (a int) /*!99999 \\! touch /tmp/x\n*/;\n",
    "use in a skipped conditional comment": b"CREATE TABLE t (a int) /*M!999999 \\u prod\n*/;\n",
    "shell in an optimizer hint's comment": b"CREATE TABLE t (a int) /*+ \\! touch /tmp/x\n*/;\n",
    "source in a routine body": b"CREATE PROCEDURE p() SELECT 1 \\. /tmp/x\n;\n",
    "shell after a dash-dash and a control character": b"CREATE TABLE t (a int) --\x01 \\! touch /tmp/x\n;\n",
}


@pytest.mark.parametrize("sql", CLIENT_COMMANDS.values(), ids=CLIENT_COMMANDS.keys())
def test_what_the_stock_client_reads_as_its_own_command_is_refused(sql):
    # Given a statement holding a backslash command where the client reads code
    # When it is checked; Then it is refused as text that cannot be read safely
    with pytest.raises(Refused, match=r"statement 1 .*cannot be read safely"):
        follow(sql)


def test_backslashes_in_quoted_text_and_plain_comments_are_accepted():
    # Given backslashes where neither the server nor the client reads code: strings, quoted names, comments
    sql = (
        b"CREATE TABLE `a\\b` (v varchar(9) DEFAULT 'x\\\\y') /* C:\\dir */ COMMENT 'c:\\\\d';\n"
        b"-- Table structure for table `a\\b`\nCREATE VIEW v AS SELECT 1 AS `x\\y`; # C:\\dir\n"
    )
    # When it is checked; Then both statements are accepted
    assert follow(sql) == 2


def test_code_after_a_sandbox_comment_on_its_line_is_checked():
    # Given a sandbox comment with a statement after it on the same line: the server and the stock client
    # run it, restored by hand
    sql = b"CREATE TABLE t (a int);\n/*M!999999\\- enable the sandbox mode */ DROP TABLE victim.t;\n"
    # When it is checked; Then that statement is read, and refused
    with pytest.raises(Refused, match=r"statement 2 .*victim\.t, qualified with a database"):
        follow(sql)


def test_a_hint_comment_with_a_client_command_after_the_last_statement_is_refused():
    # Given a `/*+ … */` comment holding `\!` after the last statement: MySQL's client runs the command
    sql = b"CREATE TABLE t (a int);\n/*+ \\! touch /tmp/x */\n"
    # When it is checked; Then it is refused as text that cannot be read safely
    with pytest.raises(Refused, match=r"statement 2 .*cannot be read safely"):
        follow(sql)


def test_a_sandbox_line_after_the_first_is_accepted():
    # Given two mariadb-dump files of one database one after the other: the second's sandbox line (`\-`, the
    # MariaDB client's command that only forbids the others) comes before its first statement
    sql = (
        b"/*M!999999\\- enable the sandbox mode */\nCREATE TABLE t (a int);\n"
        b"/*M!999999\\- enable the sandbox mode */\nCREATE TABLE u (a int);\n"
    )
    # When it is checked; Then both statements are accepted
    assert follow(sql) == 2


def test_a_dash_dash_before_a_byte_a_character_set_may_call_a_space_is_refused():
    # Given `--` before 0xA0 (a space in latin1, so a comment there; not in utf8mb4)
    sql = b"DELIMITER ;;\nCREATE PROCEDURE p() BEGIN --\xa0 '\nSELECT 1;\n-- '\nEND;;\nDELIMITER ;\n"
    # When it is checked; Then it is refused as text that cannot be read safely
    with pytest.raises(Refused, match=r"cannot be read safely"):
        follow(sql)


# Pieces of dump text, and bytes no dump holds (a stray UTF-8 prefix, latin1, 0xFF), for the property below.
FRAGMENTS = [
    b"CREATE TABLE ", b"INSERT INTO t VALUES ", b"INSERT INTO ", b"SET ", b"SET NAMES ", b"DROP ",
    b"CREATE DEFINER=", b"TRIGGER ", b"VIEW ", b"USE ", b"LOCK TABLES ", b" WRITE", b"DELIMITER ;;\n",
    b"`", b"'", b'"', b"/*!40101 ", b"/*M!100600 ", b"*/", b"/*", b";\n", b";;\n", b"(", b")", b",",
    b"-- ", b"#", b"\n", b"\\", b"@", b"@@", b"=", b".", b"t", b"src", b"prod", b"1", b"0x", b"X'",
    b"\xef\xbb\xbf", b"\xef\xbb", b"\xe9", b"\xff", b"\x00",
]  # fmt: skip


@settings(max_examples=1000, deadline=None)
@given(parts=st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.binary(max_size=6)), max_size=30))
def test_any_bytes_get_a_verdict_never_a_crash(parts):
    # Whatever a file holds, the check accepts it or refuses it in one line: an error of its own kind,
    # never an exception from deeper down (which the command line reports as an internal error).
    sql = b"".join(parts)
    said = ""
    try:
        check(sql)
    except CloudBackupError as exc:
        said = str(exc)
    assert "\n" not in said


@pytest.mark.parametrize(
    "sql",
    [
        b"USE `other\ndb\x1b[2J`;\n",  # a second database, its name holding a newline and a terminal escape
        b"SET `x\ny\x1b[2J` = 1;\n",  # a refused variable, the same
        b"\x80\xff CREATE TABLE t (a int);\n",  # bytes that are not UTF-8 where a statement starts
    ],
    ids=["other database", "refused variable", "not UTF-8"],
)
def test_a_refusal_is_one_plain_line_whatever_the_dump_holds(sql):
    with pytest.raises(CloudBackupError) as refused:
        check(sql)
    said = str(refused.value)
    assert "\n" not in said
    assert "\x1b" not in said


@pytest.mark.parametrize(
    "sql",
    [
        "CHANGE REPLICATION SOURCE TO SOURCE_LOG_FILE='binlog.000002', SOURCE_LOG_POS=157",
        "CHANGE MASTER TO MASTER_LOG_FILE='mysql-bin.000002', MASTER_LOG_POS=157",
    ],
)
def test_a_dumps_replication_line_is_refused_naming_the_option_that_writes_it_as_a_comment(sql):
    # mysqldump --source-data=1 (--master-data=1) writes the dumped server's position as a statement
    with pytest.raises(Refused) as refused:
        Confinement(where="f.sql").check(Statement(1, 1, sql.encode()))
    assert "--source-data=2" in str(refused.value)


@pytest.mark.parametrize(
    ("sql", "is_refused"),
    [
        ("CREATE TABLE t (a int) ENGINE=InnoDB", False),
        ("CREATE TABLE t (a int) /*!40101 ENGINE=InnoDB */", False),
        ("CREATE TABLE t (a int) ENGINE=/*!50000 InnoDB */ MyISAM", False),
        ("ALTER TABLE t ENGINE = InnoDB", False),
        ("CREATE TABLE t (a int) ENGINE=CONNECT TABLE_TYPE=MYSQL CONNECTION='mysql://u@h/d/t'", True),
        # a name the server reads as well as the word: quoted, or as text
        ("CREATE TABLE t (a int) ENGINE=`CONNECT` TABLE_TYPE=MYSQL", True),
        ("CREATE TABLE t (a int) ENGINE 'FEDERATED' CONNECTION='mysql://u@h/d/t'", True),
        # behind a conditional comment a server of another version skips, or in one it runs
        ("CREATE TABLE t (a int) ENGINE=/*!99999 InnoDB */ CONNECT TABLE_TYPE=MYSQL", True),
        ("CREATE TABLE t (a int) ENGINE=/*!50000 SPIDER */ COMMENT='wrapper \"mysql\"'", True),
        # and an ALTER TABLE, which may turn a restored table into one as well
        ("ALTER TABLE t ENGINE=FEDERATED CONNECTION='mysql://u@h/d/t'", True),
        ("ALTER TABLE t ENGINE = `spider`", True),
    ],
)
def test_an_engine_that_reaches_outside_is_refused_however_it_is_written(sql, is_refused):
    # Given a table's ENGINE clause, written as the server reads it in any of its forms
    # When it is checked; Then an engine that reads or writes another server's or database's tables is
    # refused, whatever a conditional comment before it holds, in CREATE TABLE and ALTER TABLE alike
    assert refused(sql + ";\n") is is_refused


# (case, a dump where the server reads code that the check, before, took for part of a quoted text or
# of one word: a table copied from mysql.user, a function of another database called)
READ_OTHERWISE = [
    (
        # under ANSI_QUOTES "t\" is a whole name (no backslash escapes in names): the rest is code
        "name in double quotes ending in a backslash",
        b'SET sql_mode = \'ANSI_QUOTES\';\nCREATE TABLE "t\\" AS SELECT * FROM mysql.user -- "\n;\n',
    ),
    (
        "user variable named in quotes ending in a backslash, without backslash escapes",
        b"SET sql_mode = 'NO_BACKSLASH_ESCAPES';\nSET @'a\\' = prod.f() -- ' = 1\n;\n",
    ),
    (
        "user variable named in double quotes ending in a backslash, under ANSI_QUOTES",
        b'SET sql_mode = \'ANSI_QUOTES\';\nSET @"a\\" = prod.f() -- " = 1\n;\n',
    ),
    # (MariaDB: ORACLE, MSSQL, DB2, POSTGRESQL and MAXDB turn ANSI_QUOTES on; MSSQL quotes names in [])
    (
        "ORACLE sql_mode: names in double quotes",
        b'SET sql_mode = \'ORACLE\';\nCREATE TABLE "t\\" AS SELECT * FROM mysql.user -- "\n;\n',
    ),
    (
        "MSSQL sql_mode: names in brackets",
        b"SET sql_mode = 'MSSQL';\nCREATE TABLE [t'] AS SELECT * FROM mysql.user -- ']\n;\n",
    ),
    # 0xA0 is a space to a latin1 session, 0xFF to a cp852 one: three words, not one
    ("latin1 no-break space", b"SET NAMES latin1;\nCREATE TABLE t SELECT\xa0*\xa0FROM\xa0mysql.user;\n"),
    ("cp852 no-break space", b"SET NAMES cp852;\nCREATE TABLE t SELECT\xff*\xffFROM\xffmysql.user;\n"),
]


@pytest.mark.parametrize(("case", "sql"), READ_OTHERWISE, ids=[c for c, _ in READ_OTHERWISE])
def test_code_the_server_reads_outside_a_quote_or_a_word_is_refused(case, sql):
    # Given a dump whose second statement the server reads as code where a careless reading sees a
    # quoted text or one word; When it is checked before loading; Then that statement is refused
    with pytest.raises(Refused, match=r"statement 2 "):
        follow(sql)


@pytest.mark.parametrize(
    "sql",
    [
        b'SET sql_mode = \'ANSI_QUOTES\';\nCREATE TABLE "a\\" ("b\\" int, "c""d" int);\n',
        b"SET sql_mode = 'NO_BACKSLASH_ESCAPES';\nSET @'a\\' = 1;\n",
        b"SET sql_mode = 'POSTGRESQL';\nCREATE TABLE \"a\\\" (b int);\n",
        b"SET sql_mode = 'MSSQL';\nCREATE TABLE [a]]b] ([c'] int, [d\"] int);\n",
        # (0xA0 inside a UTF-8 character, and a latin1 one where it is not a space)
        b"SET NAMES utf8mb4;\nCREATE TABLE t (\xc3\xa0 int);\n",
        b"SET NAMES latin1;\nCREATE TABLE t (\xe0\xa0\xe0 int);\n".replace(b"\xa0", b"\xe8"),
    ],
)
def test_names_read_as_the_server_reads_them_are_accepted(sql):
    assert follow(sql) == 2


@pytest.mark.parametrize(
    "sql",
    [
        b'CREATE FUNCTION f() RETURNS INT DETERMINISTIC LANGUAGE JAVASCRIPT AS $$ let q = "DROP TABLE t"; $$',
        b"CREATE PROCEDURE p() LANGUAGE JavaScript\nAS $js$ return 1 $js$",
        b"CREATE FUNCTION f() RETURNS INT /*!90000 LANGUAGE JAVASCRIPT */ AS 'return 1'",
    ],
)
def test_a_routine_in_another_language_than_sql_is_refused(sql):
    # Given a routine in JavaScript (MySQL 9), whose code can run SQL built at run time
    # When it is checked; Then it is refused, saying why
    with pytest.raises(Refused, match=r"routine in JAVASCRIPT"):
        follow(b"SET NAMES utf8mb4;\n" + sql + b";\n")


@pytest.mark.parametrize(
    "sql",
    [
        b"CREATE PROCEDURE p() LANGUAGE SQL SELECT 1",
        b"CREATE PROCEDURE p() SELECT language AS l FROM t",
    ],
)
def test_a_routine_in_sql_is_accepted_whatever_its_columns_are_named(sql):
    assert follow(b"SET NAMES utf8mb4;\n" + sql + b";\n") == 2


@pytest.mark.parametrize(
    "body",
    [
        b"SET @x = innodb_set_open_files_limit(100)",
        b"SET @x = `INNODB_REDO_LOG_ARCHIVE_START` /**/ ('label', 'dir')",
        b"SELECT asynchronous_connection_failover_reset() INTO @x",
        b"DO group_replication_set_as_primary('uuid')",
        b"SET @k = keyring_key_remove('key', 'user')",
    ],
)
def test_a_call_of_a_function_that_changes_the_server_is_refused(body):
    # Given a trigger calling one of MySQL's loadable functions that change the server (a global, its
    # files, replication, the keyring), which any database may call unqualified
    sql = b"CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW " + body + b";\n"
    # When it is checked; Then it is refused, naming the function
    with pytest.raises(Refused, match=r"calls .*\(\), which changes the server"):
        follow(sql)


def test_the_databases_own_names_like_those_functions_are_accepted():
    sql = (
        b"CREATE TABLE innodb_t (innodb_x int, KEY innodb_i (innodb_x), CONSTRAINT keyring_fk "
        b"FOREIGN KEY keyring_k (innodb_x) REFERENCES innodb_u (a));\nDELIMITER ;;\n"
        b"CREATE PROCEDURE innodb_p (a int) BEGIN INSERT INTO innodb_t (innodb_x) VALUES (a); END;;\n"
        b"DELIMITER ;\n"
    )
    assert follow(sql) == 2
