"""Restores into a server configured unlike the source (managed defaults, hardened servers): the
tables come back exactly as backed up, or the restore refuses in one line and changes nothing.

Each test that changes a GLOBAL variable puts it back in a `finally` (other tests share the servers)."""

from __future__ import annotations

import pytest

from cloudbackup.dburl import DbSettings
from cloudbackup.errors import OperationError
from cloudbackup.restore import restore_backup
from tests.fixtures.compare import assert_snapshots_equal, snapshot
from tests.fixtures.mariadb import admin_connect, flavour, run_sql
from tests.integration.restore_helpers import back_up, restore_account, schemas_like, server_global

pytestmark = pytest.mark.integration


def show_create(settings: DbSettings, database: str, table: str) -> str:
    with admin_connect(settings, database) as conn, conn.cursor() as cur:
        cur.execute(f"SHOW CREATE TABLE `{table}`")
        return str(cur.fetchone()[1])


def test_a_table_without_primary_key_keeps_its_shape_where_the_server_would_add_one(
    db_settings, make_database, tmp_path
):
    if flavour(db_settings) != "mysql":
        pytest.skip("sql_generate_invisible_primary_key is MySQL's (8.0.30+); MariaDB never adds a key")
    # Given a backup of a table without a primary key
    source = make_database("gipk")
    run_sql(db_settings, source, "CREATE TABLE log (a INT, b VARCHAR(20))", "INSERT INTO log VALUES (1, 'x')")
    entry = back_up(db_settings, source, tmp_path)
    target = source + "_copy"
    # When it is restored into a server that gives such tables an invisible primary key (Azure's default)
    with server_global(db_settings, "sql_generate_invisible_primary_key", "ON"):
        restore_backup(db_settings, entry, target_database=target)
    # Then the table comes back as it was: no `my_row_id` column, rows and all
    assert_snapshots_equal(snapshot(db_settings, source), snapshot(db_settings, target))


def test_timestamp_columns_keep_their_defaults_where_the_server_would_add_them(
    db_settings, make_database, tmp_path
):
    # Given a backup of TIMESTAMP columns declared NOT NULL without a default
    source = make_database("edft")
    run_sql(
        db_settings,
        source,
        "CREATE TABLE seen (id INT PRIMARY KEY, t TIMESTAMP NOT NULL, u TIMESTAMP NOT NULL)",
        "INSERT INTO seen VALUES (1, '2020-01-01 00:00:00', '2021-01-01 00:00:00')",
    )
    entry = back_up(db_settings, source, tmp_path)
    target = source + "_copy"
    # When it is restored into a server with explicit_defaults_for_timestamp OFF (which would add
    # DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP to the first, a zero default to the second)
    with server_global(db_settings, "explicit_defaults_for_timestamp", "OFF"):
        restore_backup(db_settings, entry, target_database=target)
    # Then the columns come back as they were
    assert show_create(db_settings, target, "seen") == show_create(db_settings, source, "seen")
    assert_snapshots_equal(snapshot(db_settings, source), snapshot(db_settings, target))


def test_an_account_that_may_not_keep_the_shape_is_refused_and_nothing_changes(
    db_settings, make_database, tmp_path
):
    if flavour(db_settings) != "mysql":
        pytest.skip("sql_generate_invisible_primary_key is MySQL's (8.0.30+); MariaDB never adds a key")
    # Given a backup of a table without a primary key, and an account without SESSION_VARIABLES_ADMIN
    source = make_database("gipk")
    run_sql(db_settings, source, "CREATE TABLE log (a INT)", "INSERT INTO log VALUES (1)")
    entry = back_up(db_settings, source, tmp_path)
    target = source + "_copy"
    # When it restores into a server that gives such tables an invisible primary key
    with (
        restore_account(db_settings, target) as account,
        server_global(db_settings, "sql_generate_invisible_primary_key", "ON"),
        pytest.raises(OperationError) as refused,
    ):
        restore_backup(account, entry, target_database=target)
    # Then it is refused in one line that names the setting, and nothing was created
    message = str(refused.value)
    assert "\n" not in message
    assert "sql_generate_invisible_primary_key" in message
    assert "SESSION_VARIABLES_ADMIN" in message
    assert schemas_like(db_settings, target) == []


def test_an_account_that_may_not_keep_the_shape_restores_tables_the_setting_leaves_alone(
    db_settings, make_database, tmp_path
):
    if flavour(db_settings) != "mysql":
        pytest.skip("sql_generate_invisible_primary_key is MySQL's (8.0.30+); MariaDB never adds a key")
    # Given a backup whose every table has a primary key, and an account without SESSION_VARIABLES_ADMIN
    source = make_database("gipk")
    run_sql(
        db_settings,
        source,
        "CREATE TABLE item (id INT PRIMARY KEY, name TEXT)",
        "INSERT INTO item VALUES (1, 'a')",
    )
    entry = back_up(db_settings, source, tmp_path)
    target = source + "_copy"
    # When it restores into a server that would give a keyless table an invisible primary key
    with (
        restore_account(db_settings, target) as account,
        server_global(db_settings, "sql_generate_invisible_primary_key", "ON"),
    ):
        restore_backup(account, entry, target_database=target)
    # Then the restore goes through (the setting changes none of its tables), identical to the source
    assert_snapshots_equal(snapshot(db_settings, source), snapshot(db_settings, target))


def test_a_read_only_server_is_refused_in_one_line_and_nothing_changes(db_settings, make_database, tmp_path):
    # Given a backup, and an account without the privilege to write past read_only
    source = make_database("ro")
    run_sql(db_settings, source, "CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1)")
    entry = back_up(db_settings, source, tmp_path)
    target = source + "_copy"
    # When it restores into a read-only server (a replica, a server being failed over)
    with (
        restore_account(db_settings, target) as account,
        server_global(db_settings, "read_only", "ON"),
        pytest.raises(OperationError) as refused,
    ):
        restore_backup(account, entry, target_database=target)
    # Then it is refused in one line that says the server is read-only, and nothing was created
    message = str(refused.value)
    assert "\n" not in message
    assert "read-only" in message
    assert "nothing was changed" in message
    assert schemas_like(db_settings, target) == []


def test_a_statement_over_the_servers_packet_limit_is_refused_in_one_line_that_says_so(
    db_settings, make_database, tmp_path
):
    # Given a backup whose rows of one table go in one statement of about 1.8 MB
    source = make_database("pk")
    run_sql(
        db_settings,
        source,
        "CREATE TABLE doc (id INT PRIMARY KEY, body LONGBLOB)",
        *(f"INSERT INTO doc VALUES ({n}, REPEAT('z', 600000))" for n in (1, 2, 3)),
    )
    entry = back_up(db_settings, source, tmp_path)
    target = source + "_copy"
    # When it is restored into a server taking 1 MiB packets, without LOAD DATA LOCAL (which streams)
    with (
        server_global(db_settings, "local_infile", "OFF"),
        server_global(db_settings, "max_allowed_packet", "1048576"),
        pytest.raises(OperationError) as refused,
    ):
        restore_backup(db_settings, entry, target_database=target)
    # Then it is refused in one line naming the statement, the limit and how to raise it (found as it is
    # read, before the statement is held whole), and nothing was created
    message = str(refused.value)
    assert "\n" not in message
    assert "is longer than the server's max_allowed_packet (1,048,576 bytes)" in message
    assert "raise max_allowed_packet" in message
    assert "was left as it was" in message
    assert schemas_like(db_settings, target) == []


def test_a_table_without_primary_key_is_refused_before_any_change_where_the_server_requires_one(
    db_settings, make_database, tmp_path
):
    # Given a backup of a loaded table, then a table without a primary key
    source = make_database("rpk")
    run_sql(
        db_settings,
        source,
        "CREATE TABLE a_keyed (id INT PRIMARY KEY)",
        "INSERT INTO a_keyed VALUES (1)",
        "CREATE TABLE b_log (a INT)",
    )
    entry = back_up(db_settings, source, tmp_path)
    target = source + "_copy"
    # When it is restored into a server that requires a primary key on every table (DigitalOcean's default)
    required = "sql_require_primary_key" if flavour(db_settings) == "mysql" else "innodb_force_primary_key"
    with server_global(db_settings, required, "ON"), pytest.raises(OperationError) as refused:
        restore_backup(db_settings, entry, target_database=target)
    # Then it is refused in one line, before anything is created, naming the table and the setting
    message = str(refused.value)
    assert "\n" not in message
    assert "refused before any change" in message
    assert required in message
    assert "b_log" in message
    assert schemas_like(db_settings, target) == []


def foreign_key_targets(settings: DbSettings, database: str) -> set[tuple[str, str]]:
    """(constraint, referenced database) of every foreign key of `database`."""
    with admin_connect(settings) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT constraint_name, unique_constraint_schema "
            "FROM information_schema.referential_constraints WHERE constraint_schema = %s",
            (database,),
        )
        return {(str(name), str(schema)) for name, schema in cur.fetchall()}


def test_a_subset_restored_in_place_keeps_its_foreign_keys_where_sessions_start_with_ansi_quotes(
    db_settings, make_database, tmp_path
):
    # Given a backup of a parent and a child table referencing it
    source = make_database("aq")
    run_sql(
        db_settings,
        source,
        "CREATE TABLE parent (id INT PRIMARY KEY)",
        "CREATE TABLE child (id INT PRIMARY KEY, pid INT, CONSTRAINT fk_child_parent "
        "FOREIGN KEY (pid) REFERENCES parent (id))",
        "INSERT INTO parent VALUES (1)",
        "INSERT INTO child VALUES (1, 1)",
    )
    entry = back_up(db_settings, source, tmp_path)
    # When the child alone is restored in place on a server whose sessions start with ANSI_QUOTES
    with server_global(db_settings, "sql_mode", "'ANSI_QUOTES,STRICT_TRANS_TABLES'"):
        restore_backup(db_settings, entry, in_place=True, tables=["child"])
    # Then the live child references the live parent, not the staging database the restore dropped
    assert foreign_key_targets(db_settings, source) == {("fk_child_parent", source)}
    run_sql(db_settings, source, "INSERT INTO parent VALUES (2)", "INSERT INTO child VALUES (2, 2)")


def test_a_table_restored_alone_brings_its_sequence_where_sessions_start_with_ansi_quotes(
    db_settings, make_database, tmp_path
):
    if flavour(db_settings) != "mariadb":
        pytest.skip("sequences, and defaults calling them, are MariaDB's")
    # Given a backup of a table whose key comes from a sequence
    source = make_database("aqs")
    run_sql(
        db_settings,
        source,
        "CREATE SEQUENCE seq START WITH 10",
        "CREATE TABLE item (id BIGINT NOT NULL DEFAULT nextval(seq) PRIMARY KEY, name TEXT)",
        "INSERT INTO item (name) VALUES ('a')",
    )
    entry = back_up(db_settings, source, tmp_path)
    target = source + "_copy"
    # When that table alone is restored on a server whose sessions start with ANSI_QUOTES
    with server_global(db_settings, "sql_mode", "'ANSI_QUOTES,STRICT_TRANS_TABLES'"):
        restore_backup(db_settings, entry, target_database=target, tables=["item"])
    # Then the sequence came with it, the default calls the target's own, and a new row takes from it
    assert show_create(db_settings, target, "item") == show_create(db_settings, source, "item").replace(
        f"`{source}`.", f"`{target}`."
    )
    run_sql(db_settings, target, "INSERT INTO item (name) VALUES ('b')")


def test_a_server_whose_sessions_start_read_only_is_restored_into(db_settings, make_database, tmp_path):
    # Given a backup
    source = make_database("tro")
    run_sql(db_settings, source, "CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1)")
    entry = back_up(db_settings, source, tmp_path)
    target = source + "_copy"
    # When it is restored into a server whose transactions start READ ONLY by default (a writable
    # server: the default access mode of a session, which any session may change, not read_only)
    variable = "transaction_read_only" if flavour(db_settings) == "mysql" else "tx_read_only"
    with server_global(db_settings, variable, "ON"):
        restore_backup(db_settings, entry, target_database=target)
    # Then the restore writes as it does anywhere else
    assert_snapshots_equal(snapshot(db_settings, source), snapshot(db_settings, target))


def test_a_routine_keeps_its_collations_where_the_server_gives_utf8mb4_another_default(
    db_settings, make_database, tmp_path
):
    if flavour(db_settings) != "mysql":
        pytest.skip("default_collation_for_utf8mb4 is MySQL's (8.0+)")
    # Given a backup of a function and a procedure whose utf8mb4 text takes the character set's default
    source = make_database("dcu")
    run_sql(
        db_settings,
        source,
        "CREATE FUNCTION f_label(x INT) RETURNS VARCHAR(20) CHARSET utf8mb4 DETERMINISTIC "
        "RETURN CONCAT('n', x)",
        "CREATE PROCEDURE p_echo(IN s VARCHAR(20) CHARSET utf8mb4) SELECT s",
    )
    entry = back_up(db_settings, source, tmp_path)
    target = source + "_copy"
    # When it is restored into a server whose utf8mb4 default is another collation (5.7 compatibility)
    with server_global(db_settings, "default_collation_for_utf8mb4", "utf8mb4_general_ci"):
        restore_backup(db_settings, entry, target_database=target)
    # Then the routines come back as they were, with no COLLATE utf8mb4_general_ci added
    assert_snapshots_equal(snapshot(db_settings, source), snapshot(db_settings, target))


def test_indexed_tables_keep_their_shape_where_the_server_keeps_tables_in_the_system_tablespace(
    db_settings, make_database, tmp_path
):
    # Given a backup of tables with secondary indexes and a foreign key
    source = make_database("fpt")
    run_sql(
        db_settings,
        source,
        "CREATE TABLE parent (id INT PRIMARY KEY, name VARCHAR(20), UNIQUE KEY uq_name (name))",
        "CREATE TABLE child (id INT PRIMARY KEY, pid INT, note VARCHAR(20), KEY k_note (note), "
        "CONSTRAINT fk_child_parent FOREIGN KEY (pid) REFERENCES parent (id))",
        "INSERT INTO parent VALUES (1, 'a')",
        "INSERT INTO child VALUES (1, 1, 'x')",
    )
    entry = back_up(db_settings, source, tmp_path)
    target = source + "_copy"
    # When it is restored into a server that puts new tables in the system tablespace
    with server_global(db_settings, "innodb_file_per_table", "OFF"):
        restore_backup(db_settings, entry, target_database=target)
    # Then the tables come back as they were (MySQL names a tablespace once an index is added by ALTER)
    assert_snapshots_equal(snapshot(db_settings, source), snapshot(db_settings, target))


def test_grants_by_pattern_read_literally_are_refused_in_one_line_that_says_why(
    db_settings, make_database, tmp_path
):
    if flavour(db_settings) != "mysql":
        pytest.skip("partial_revokes is MySQL's (8.0.16+)")
    # Given a backup, and an account granted ALL on the target's databases by a wildcard pattern
    source = make_database("prv")
    run_sql(db_settings, source, "CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1)")
    entry = back_up(db_settings, source, tmp_path)
    target = source + "_copy"
    # When it restores on a server with partial_revokes ON, where `%` and `_` in a grant are literal
    with (
        server_global(db_settings, "partial_revokes", "ON"),
        restore_account(db_settings, target) as account,
        pytest.raises(OperationError) as refused,
    ):
        restore_backup(account, entry, target_database=target)
    # Then it is refused in one line naming the database it may not create and why, nothing created
    message = str(refused.value)
    assert "\n" not in message
    assert "may not create" in message
    assert "partial_revokes" in message
    assert "nothing was changed" in message
    assert schemas_like(db_settings, target) == []


def test_an_index_too_long_for_the_servers_row_format_names_that_setting(
    db_settings, make_database, tmp_path
):
    if flavour(db_settings) != "mysql":
        pytest.skip("MariaDB creates such an index under COMPACT too (it limits it otherwise)")
    # Given a backup of a table with an index over 767 bytes (VARCHAR(255) in utf8mb4: 1,020)
    source = make_database("rf")
    run_sql(
        db_settings,
        source,
        "CREATE TABLE page (id INT PRIMARY KEY, url VARCHAR(255), KEY k_url (url)) CHARACTER SET utf8mb4",
        "INSERT INTO page VALUES (1, 'https://example.com/')",
    )
    entry = back_up(db_settings, source, tmp_path)
    target = source + "_copy"
    # When it is restored into a server whose new tables default to the COMPACT row format (767 bytes)
    with (
        server_global(db_settings, "innodb_default_row_format", "COMPACT"),
        pytest.raises(OperationError) as refused,
    ):
        restore_backup(db_settings, entry, target_database=target)
    # Then the one-line error names the setting that makes the index too long, and nothing was created
    message = str(refused.value)
    assert "\n" not in message
    assert "innodb_default_row_format is COMPACT" in message
    assert schemas_like(db_settings, target) == []


WIDE_COMPACT = (
    "CREATE TABLE wide (id INT PRIMARY KEY, "
    + ", ".join(f"c{i} VARCHAR(255)" for i in range(40))
    + ") ROW_FORMAT=COMPACT CHARSET latin1"
)


def test_a_table_made_without_innodb_strict_mode_is_made_again_where_the_server_has_it(
    db_settings, make_database, tmp_path
):
    # Given a backup of a table whose rows may outgrow a page (40 VARCHAR(255) in COMPACT rows), which
    # the source took with innodb_strict_mode OFF (a warning) and a server as shipped (ON) refuses
    source = make_database("strict")
    run_sql(
        db_settings,
        source,
        "SET SESSION innodb_strict_mode = OFF",
        WIDE_COMPACT,
        "INSERT INTO wide (id, c1, c39) VALUES (1, 'a', 'z')",
    )
    entry = back_up(db_settings, source, tmp_path)
    target = source + "_copy"
    # When it is restored (the server's innodb_strict_mode is ON)
    restore_backup(db_settings, entry, target_database=target)
    # Then the table comes back as it was, rows and all
    assert_snapshots_equal(snapshot(db_settings, source), snapshot(db_settings, target))


def test_an_account_that_may_not_turn_strict_mode_off_is_told_what_to_grant_and_nothing_changes(
    db_settings, make_database, tmp_path
):
    if flavour(db_settings) != "mysql":
        pytest.skip("MariaDB lets any account set innodb_strict_mode for its session")
    # Given a backup of a table made with innodb_strict_mode OFF, and an account without
    # SESSION_VARIABLES_ADMIN
    source = make_database("strict")
    run_sql(db_settings, source, "SET SESSION innodb_strict_mode = OFF", WIDE_COMPACT)
    entry = back_up(db_settings, source, tmp_path)
    target = source + "_copy"
    # When that account restores it
    with restore_account(db_settings, target) as account, pytest.raises(OperationError) as refused:
        restore_backup(account, entry, target_database=target)
    # Then it fails in one line naming the setting and the privilege, and nothing was created
    message = str(refused.value)
    assert "\n" not in message
    assert "innodb_strict_mode" in message
    assert "SESSION_VARIABLES_ADMIN" in message
    assert schemas_like(db_settings, target) == []


def test_a_server_wide_statement_time_limit_does_not_stop_a_restore(db_settings, make_database, tmp_path):
    if flavour(db_settings) != "mariadb":
        pytest.skip("MariaDB's max_statement_time limits every statement; MySQL's max_execution_time, SELECT")
    # Given a backup of a table with secondary indexes, which the restore builds after the rows
    source = make_database("stmttime")
    run_sql(
        db_settings,
        source,
        "CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(40), b INT, KEY (a), KEY (b))",
        "INSERT INTO t SELECT seq, MD5(seq), seq % 100 FROM seq_1_to_60000",
    )
    entry = back_up(db_settings, source, tmp_path)
    target = source + "_copy"
    # When it is restored into a server whose sessions may run a statement for 10 ms at most
    with server_global(db_settings, "max_statement_time", "0.01"):
        restore_backup(db_settings, entry, target_database=target)
    # Then it is all there (the index build, and the rows, were not cut short)
    assert_snapshots_equal(snapshot(db_settings, source), snapshot(db_settings, target))
