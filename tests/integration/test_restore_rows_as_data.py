"""Row statements sent as LOAD DATA LOCAL store exactly what the INSERT would have, on both servers.

Each test loads the same statements through the real loader twice, into two databases: once with rows
sent as LOAD DATA where it may, once as the INSERTs they are. The two must be equal (CHECKSUM TABLE and
SHOW CREATE of every table), and the loader must have taken the path the test is about.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cloudbackup.confine.check import REMEMBERED_ROWS_BYTES
from cloudbackup.dburl import DbSettings
from cloudbackup.mysql import literals
from cloudbackup.mysql.load import Loader, LoadError
from cloudbackup.mysql.splitter import Statement
from cloudbackup.restore import restore_backup
from tests.fixtures.compare import assert_databases_equal
from tests.fixtures.mariadb import admin_connect, run_sql
from tests.integration.restore_helpers import back_up, make_shop

pytestmark = pytest.mark.integration

SESSION = "SET NAMES utf8mb4, sql_mode = 'NO_AUTO_VALUE_ON_ZERO', time_zone = '+00:00'"
EVERY_KIND = (
    "CREATE TABLE t (id INT NOT NULL PRIMARY KEY, tiny TINYINT, big BIGINT UNSIGNED, amount DECIMAL(30,10), "
    "ratio DOUBLE, small FLOAT, name VARCHAR(100), body TEXT, born DATE, at DATETIME(6), doc JSON, "
    "raw VARBINARY(64), blobby BLOB, fixed BINARY(4), kind ENUM('a','b'), flags SET('x','y'), "
    "ascii_name VARCHAR(20) CHARACTER SET ascii)"
)
COLUMNS = (
    "(`id`,`tiny`,`big`,`amount`,`ratio`,`small`,`name`,`body`,`born`,`at`,`doc`,`raw`,`blobby`,"
    "`fixed`,`kind`,`flags`,`ascii_name`)"
)
# Values as our dumps write them (QUOTE, X'…', shortest doubles, -0e0), with the bytes LOAD DATA gives
# meaning to: its field and line ends inside strings, every escape both read, quotes, 4-byte UTF-8.
EVERY_KIND_ROWS = [
    r"(1,-128,18446744073709551615,12345678901234567890.0123456789,-0e0,0.10000000149011612,"
    r"'a),(b','x\',\'y','2024-02-29','2024-01-01 12:34:56.123456','{\"a\": [1, 2.5, \"),(\"]}',"
    r"X'',X'00FF27292C28',X'DEADBEEF','a','x,y','plain')",
    r"(2,127,0,-0.5000000000,1e300,-3.4028234663852886e38,'\\','\0\Z\b\t\n\r\"','1000-01-01',"
    r"'9999-12-31 23:59:59.999999','[]',X'27',X'5C4E',X'00000000','b','','')",
    r"(3,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL)",
    r"(4,0,1,0.0000000001,2.2250738585072014e-308,1.401298464324817e-45,'NULL','',"
    r"'2000-01-01','2000-01-01 00:00:00.000000','null',X'4E554C4C',X'',X'20202020','a','y','N')",
    r"(5,-1,42,1.5,0.1,-0e0,'ends with a backslash \\','\'),(\'','2024-01-01',"
    r"'2024-01-01 00:00:00.000001','\"\\\\\"',X'5C',X'0D0A',X'2C2C2C2C',NULL,'x',',')",
    r"(6,1,2,3,4,5,'😀 four-byte UTF-8','tab\there\nand a new line','2024-01-02','2024-01-02 03:04:05',"
    r"'{\"k\": \"😀\"}',X'F09F9880',X'00',X'01020304','b','x,y','a\'b')",
]


@contextlib.contextmanager
def loader(db: DbSettings, database: str, *, as_data: bool, jobs: int = 2) -> Iterator[Loader]:
    with Loader(db, database, jobs=jobs, rows_as_data=as_data) as it:
        it.run(Statement(1, 1, SESSION.encode()), "setup")
        yield it
        it.wait()


def load(db: DbSettings, database: str, statements: list[Statement]) -> None:
    with loader(db, database, as_data=True) as it:
        for stmt in statements:
            it.run(stmt, "a test")


def load_both(
    db: DbSettings,
    make_database: Callable[[str], str],
    schema: list[str],
    rows: list[str | bytes],
    jobs: int = 2,
) -> tuple[str, str, int, int]:
    """Load `schema` then `rows` (each a row statement) twice: (database loaded with LOAD DATA where it
    may, database loaded with INSERTs, statements sent as data by each)."""
    sent: list[int] = []
    databases = []
    for as_data in (True, False):
        database = make_database("rd" if as_data else "ri")
        with loader(db, database, as_data=as_data, jobs=jobs) as it:
            for number, sql in enumerate([*schema, *rows], start=2):
                it.run(Statement(number, number, sql if isinstance(sql, bytes) else sql.encode()), "a test")
            it.wait()
            sent.append(it.statements_as_data)
        databases.append(database)
    return databases[0], databases[1], sent[0], sent[1]


def values(db: DbSettings, database: str, sql: str) -> list[tuple[object, ...]]:
    with admin_connect(db, database) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return list(cur.fetchall())


def test_every_kind_of_value_loads_as_data_exactly_as_the_insert_stores_it(
    db_settings: DbSettings, make_database: Callable[[str], str]
) -> None:
    # Given row statements of every column kind the data path takes, with the bytes that end LOAD DATA's
    # fields and lines inside strings, every escape, NULLs, empty strings and binaries, -0e0 and extremes
    rows = [
        f"INSERT INTO `t` {COLUMNS} VALUES {','.join(EVERY_KIND_ROWS[:3])}",
        f"INSERT INTO `t` {COLUMNS} VALUES {','.join(EVERY_KIND_ROWS[3:])}",
    ]
    # When they are loaded as LOAD DATA and as INSERTs
    as_data, as_insert, sent, sent_by_insert = load_both(db_settings, make_database, [EVERY_KIND], rows)
    # Then both row statements went as data, none did in the other load
    assert (sent, sent_by_insert) == (2, 0)
    # And the two tables hold the same bytes (CHECKSUM TABLE reads -0e0's sign), and each value's hex
    assert_databases_equal(db_settings, as_insert, as_data)
    names = COLUMNS[1:-1].replace("`", "").split(",")
    every_value = "SELECT " + ",".join(f"HEX({c})" for c in names) + " FROM t"
    assert values(db_settings, as_data, every_value) == values(db_settings, as_insert, every_value)


def test_the_session_and_quoted_names_carry_over_to_the_rows_sent_as_data(
    db_settings: DbSettings, make_database: Callable[[str], str]
) -> None:
    # Given rows under a time zone (TIMESTAMP), NO_AUTO_VALUE_ON_ZERO (an id 0), names with a backtick
    # and accents, and then rows in latin1 after SET NAMES latin1
    schema = [
        "SET time_zone = '+05:30'",
        "CREATE TABLE `we``ird ç` (`id` INT NOT NULL AUTO_INCREMENT PRIMARY KEY, `c``1` TIMESTAMP NULL,"
        " `é` VARCHAR(10))",
        "CREATE TABLE `l` (`id` INT PRIMARY KEY, `name` VARCHAR(10))",
    ]
    rows: list[str | bytes] = [
        "INSERT INTO `we``ird ç` (`id`,`c``1`,`é`) VALUES (0,'2024-03-10 02:30:00','été'),(7,NULL,'ç')",
        "SET NAMES latin1",
        b"INSERT INTO `l` (`id`,`name`) VALUES (1,'caf\xe9'),(2,'\xe9t\xe9')",
    ]
    # When they are loaded as LOAD DATA and as INSERTs (on one connection: see the next test)
    as_data, as_insert, sent, _ = load_both(db_settings, make_database, schema, rows, jobs=1)
    # Then both row statements went as data, and the two databases are the same
    assert sent == 2
    assert_databases_equal(db_settings, as_insert, as_data)
    assert values(db_settings, as_data, "SELECT id, name FROM l ORDER BY id") == [(1, "café"), (2, "été")]
    assert values(db_settings, as_data, "SELECT id FROM `we``ird ç` ORDER BY id") == [(0,), (7,)]


@pytest.mark.parametrize("jobs", [1, 2])
def test_rows_of_a_table_with_auto_increment_go_as_data_where_loads_of_it_can_overlap(
    db_settings: DbSettings, make_database: Callable[[str], str], jobs: int
) -> None:
    # Given a table with an AUTO_INCREMENT column, on a server whose lock mode is known
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT @@GLOBAL.innodb_autoinc_lock_mode")
        (lock_mode,) = cur.fetchone()
    schema = ["CREATE TABLE a (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, v INT)"]
    rows = ["INSERT INTO `a` (`id`,`v`) VALUES (1,1),(2,2)", "INSERT INTO `a` (`id`,`v`) VALUES (3,3)"]
    # When its rows are loaded over `jobs` connections
    as_data, as_insert, sent, _ = load_both(db_settings, make_database, schema, rows, jobs=jobs)
    # Then they went as data unless LOAD DATA would hold the table's AUTO-INC lock against the other
    # connection (lock modes 0 and 1: MariaDB's default), and the tables are the same
    assert sent == (0 if jobs > 1 and lock_mode != 2 else 2)
    assert_databases_equal(db_settings, as_insert, as_data)


@pytest.mark.parametrize(
    ("literal", "stored"),
    [
        ("007", "7"),  # a number in a text column: the INSERT stores the number's text
        ("1e2", "100"),
        ("-0", "0"),
        (r"'a\Nb'", "aNb"),  # LOAD DATA would read \N as NULL
        (r"'50\%'", "50\\%"),  # and \% as %
        ("'it''s'", "it's"),  # a doubled quote
        ("null", None),  # LOAD DATA knows NULL in capitals only
        ("_utf8mb4'x'", "x"),
        ("'a' 'b'", "ab"),
        ("X'41'", "A"),  # hex in a text column: LOAD DATA would store the text X'41'
    ],
)
def test_a_literal_the_two_would_read_differently_goes_as_the_insert(
    db_settings: DbSettings, make_database: Callable[[str], str], literal: str, stored: str | None
) -> None:
    # Given a row statement whose literal LOAD DATA would read otherwise than the INSERT
    schema = ["CREATE TABLE v (id INT PRIMARY KEY, name VARCHAR(20))"]
    rows = [f"INSERT INTO `v` (`id`,`name`) VALUES (1,{literal}),(2,'plain')"]
    # When it is loaded with the data path on
    as_data, as_insert, sent, _ = load_both(db_settings, make_database, schema, rows)
    # Then it went as the INSERT, and stored what the INSERT stores
    assert sent == 0
    assert values(db_settings, as_data, "SELECT name FROM v ORDER BY id") == [(stored,), ("plain",)]
    assert_databases_equal(db_settings, as_insert, as_data)


@pytest.mark.parametrize(
    "column",
    ["n BIT(8)", "n YEAR", "n VARCHAR(10) CHARACTER SET latin1", "n POINT"],
)
def test_a_table_with_a_column_the_two_may_read_differently_loads_as_inserts(
    db_settings: DbSettings, make_database: Callable[[str], str], column: str
) -> None:
    # Given a table with a column type the data path does not take (bit, year, latin1 text, spatial)
    schema = [f"CREATE TABLE w (id INT PRIMARY KEY, {column})"]
    rows = ["INSERT INTO `w` (`id`) VALUES (1),(2)"]
    # When its rows are loaded with the data path on
    as_data, as_insert, sent, _ = load_both(db_settings, make_database, schema, rows)
    # Then the rows of that column list still go as data (the other column is not named) ...
    assert sent == 1
    # ... but a statement naming the column goes as the INSERT
    database = make_database("rc")
    with loader(db_settings, database, as_data=True) as it:
        it.run(Statement(2, 2, schema[0].encode()), "a test")
        it.run(Statement(3, 3, b"INSERT INTO `w` (`id`,`n`) VALUES (1,NULL),(2,NULL)"), "a test")
        it.wait()
        assert it.statements_as_data == 0
    assert values(db_settings, database, "SELECT COUNT(*) FROM w WHERE n IS NULL") == [(2,)]
    assert_databases_equal(db_settings, as_insert, as_data)


@pytest.mark.parametrize(
    ("schema", "rows", "warning"),
    [
        # a value the INSERT would store changed without a word outside strict mode
        (["SET sql_mode = ''", "CREATE TABLE x (id INT PRIMARY KEY, tiny TINYINT)"], "(1,300)", "1264"),
        # a key twice: LOCAL would keep one row with only a warning, where the INSERT fails
        (["CREATE TABLE x (id INT PRIMARY KEY, tiny TINYINT)"], "(1,1),(1,2)", "1062: Duplicate entry '1'"),
    ],
)
def test_rows_the_server_warns_about_fail_the_load_in_one_line(
    db_settings: DbSettings, make_database: Callable[[str], str], schema: list[str], rows: str, warning: str
) -> None:
    # Given rows the server loads only with a warning
    database = make_database("rw")
    statements = [Statement(n, n, sql.encode()) for n, sql in enumerate(schema, start=2)]
    statements.append(Statement(9, 9, b"INSERT INTO `x` (`id`,`tiny`) VALUES " + rows.encode()))
    # When they are sent as data
    with pytest.raises(LoadError) as failure:
        load(db_settings, database, statements)
    # Then the load fails on that statement, naming the server's warning, in one line
    message = str(failure.value)
    assert message.startswith(
        f"statement 9 (line 9, a test) failed: its rows, sent as LOAD DATA, gave warning {warning}"
    )
    assert "\n" not in message


@pytest.fixture
def local_infile_off(db_settings: DbSettings) -> Iterator[Callable[[], None]]:
    """Turns the server's local_infile off when called; it is on again after the test."""
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT @@GLOBAL.local_infile")
        (before,) = cur.fetchone()

    def turn_off() -> None:
        run_sql(db_settings, "mysql", "SET GLOBAL local_infile = 0")

    yield turn_off
    run_sql(db_settings, "mysql", f"SET GLOBAL local_infile = {int(before)}")


def test_with_local_infile_off_the_rows_go_as_inserts(
    db_settings: DbSettings, make_database: Callable[[str], str], local_infile_off: Callable[[], None]
) -> None:
    schema = ["CREATE TABLE v (id INT PRIMARY KEY, name VARCHAR(20))"]
    rows = ["INSERT INTO `v` (`id`,`name`) VALUES (1,'a'),(2,'b')"]
    # Given a loader opened while the server allows LOCAL, and one opened after it stopped allowing it
    database, later = make_database("ro"), make_database("rl")
    with (
        loader(db_settings, database, as_data=True) as before,
        loader(db_settings, later, as_data=True) as it,
    ):
        before.run(Statement(2, 2, schema[0].encode()), "a test")
        it.run(Statement(2, 2, schema[0].encode()), "a test")
        local_infile_off()
        # When rows are loaded by both
        it.run(Statement(3, 3, rows[0].encode()), "a test")
        before.run(Statement(3, 3, rows[0].encode()), "a test")
        before.wait()
        it.wait()
        # Then the server's refusal sent them as INSERTs, and all rows are in
        assert (before.statements_as_data, it.statements_as_data) == (0, 0)
    for name in (database, later):
        assert values(db_settings, name, "SELECT id, name FROM v ORDER BY id") == [(1, "a"), (2, "b")]


def test_a_restore_sends_its_row_statements_as_data(
    db_settings: DbSettings,
    make_database: Callable[[str], str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a backup of a shop database
    source = make_database("rs")
    make_shop(db_settings, source)
    entry = back_up(db_settings, source, tmp_path)
    sent: list[int] = []
    close = Loader.close

    def observed(self: Loader) -> None:
        sent.append(self.statements_as_data)
        close(self)

    monkeypatch.setattr(Loader, "close", observed)
    # When it is restored
    target = make_database("rt")
    restore_backup(db_settings, entry, target_database=target, jobs=2)
    # Then its row statements went as data, and the copy is the source
    assert sent
    assert sent[0] > 0
    assert_databases_equal(db_settings, source, target)


@pytest.mark.parametrize(
    ("schema", "rows", "as_data"),
    [
        # mysqldump's shape: no column list, binaries as 0x… (--hex-blob); the invisible column is left out
        (
            "CREATE TABLE m (id INT PRIMARY KEY, hidden INT INVISIBLE DEFAULT 7, raw VARBINARY(8),"
            " name TEXT)",
            "INSERT INTO `m` VALUES (1,0x00FF2C29,'a'),(2,NULL,'b'),(3,0x27,NULL)",
            1,
        ),
        # a generated column: an INSERT without a column list must give it DEFAULT, which LOAD DATA cannot
        (
            "CREATE TABLE m (id INT PRIMARY KEY, twice INT AS (id * 2) VIRTUAL, name TEXT)",
            "INSERT INTO `m` VALUES (1,DEFAULT,'a'),(2,DEFAULT,'b')",
            0,
        ),
    ],
)
def test_rows_without_a_column_list_go_as_data_where_the_table_s_visible_columns_take_them(
    db_settings: DbSettings, make_database: Callable[[str], str], schema: str, rows: str, as_data: int
) -> None:
    # Given row statements as mysqldump writes them
    # When they are loaded with the data path on, and as INSERTs
    with_data, with_inserts, sent, _ = load_both(db_settings, make_database, [schema], [rows])
    # Then they went as data where the table allows it, and the two tables are the same
    assert sent == as_data
    assert_databases_equal(db_settings, with_inserts, with_data)


def test_rows_whose_kinds_were_proven_before_loading_go_as_data_unread_and_store_the_same(
    db_settings: DbSettings, make_database: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a big row statement of every kind of value, whose literals' kinds the check before loading
    # proved (mysql/literals.py)
    rows = [
        re.sub(r"^\(\d+,", f"({copy * 10 + number},", row)
        for copy in range(REMEMBERED_ROWS_BYTES // 1000)
        for number, row in enumerate(EVERY_KIND_ROWS, start=1)
    ]
    big = f"INSERT INTO `t` {COLUMNS} VALUES {','.join(rows)}".encode()
    kinds = literals.proven_kinds(big)
    assert kinds is not None
    read: list[object] = []
    real = literals.rows_pattern
    monkeypatch.setattr(literals, "rows_pattern", lambda *args: read.append(args) or real(*args))
    # When it is loaded with those kinds, and again as the INSERT it is
    databases = []
    for as_data in (True, False):
        databases.append(make_database("kd" if as_data else "ki"))
        with loader(db_settings, databases[-1], as_data=as_data) as it:
            it.run(Statement(2, 2, EVERY_KIND.encode()), "a test")
            it.run(Statement(3, 3, big), "a test", literal_kinds=kinds)
            it.wait()
            if as_data:
                # Then it went as data without the loader reading its rows
                assert it.statements_as_data == 1
                assert read == []
    # and both store the same
    assert_databases_equal(db_settings, databases[0], databases[1])
