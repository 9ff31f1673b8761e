"""Rows read a key range at a time, each range one statement built by the server (real MariaDB).

However the keys are spread (gaps, negatives, the ends of BIGINT UNSIGNED, a dense run after a
sparse one, one key holding more rows than a statement), every row comes back once, every statement
fits the limit, and sparse keys cost few queries.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from cloudbackup.mysql.chunks import iter_chunks, key_span
from cloudbackup.mysql.connection import connect
from cloudbackup.mysql.rows import row_expression, table_layouts
from cloudbackup.mysql.server_text import text
from cloudbackup.mysql.snapshot import open_snapshot
from tests.fixtures.mariadb import admin_connect, run_sql
from tests.fixtures.numbers import numbers

pytestmark = pytest.mark.integration

LIMIT = 64 << 10
TARGET = 8 << 10


@contextmanager
def dump_session(db_settings: Any, database: str) -> Iterator[Any]:
    conn = connect(db_settings, database=database)
    try:
        open_snapshot(conn)
        yield conn
    finally:
        conn.close()


@dataclass
class Read:
    statements: list[tuple[bytes, int]]
    selects: int  # statements run by the reader
    rows_scanned: int  # rows the server stepped through in index ranges


def read_table(db_settings: Any, database: str, table: str, **kwargs: Any) -> Read:
    """The table's statements through the chunk reader, and what the reading cost the server."""
    with dump_session(db_settings, database) as conn, conn.cursor() as cur:
        layout = table_layouts(cur, database)[table]
        columns = layout.columns
        span = key_span(cur, database, table, layout)
        assert span is not None
        before = _session_status(cur)
        statements = list(
            iter_chunks(conn, database, table, columns, span, limit=LIMIT, target=TARGET, **kwargs)
        )
        after = _session_status(cur)
    return Read(
        statements=statements,
        selects=after["Com_select"] - before["Com_select"] - 1,  # less the status query itself
        rows_scanned=after["Handler_read_next"] - before["Handler_read_next"],
    )


def _session_status(cur: Any) -> dict[str, int]:
    cur.execute("SHOW SESSION STATUS WHERE Variable_name IN ('Com_select', 'Handler_read_next')")
    return {text(name): int(value) for name, value in cur.fetchall()}


def assert_reloads_exactly(
    db_settings: Any, database: str, table: str, statements: list[tuple[bytes, int]]
) -> None:
    """Emptied and filled again from `statements`, the table checksums as before."""
    with admin_connect(db_settings, database) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT COUNT(*) FROM {table}")
        (rows,) = cur.fetchone()
        cur.execute(f"CHECKSUM TABLE {table} EXTENDED")
        before = cur.fetchone()[1]
        cur.execute(f"TRUNCATE {table}")
        for statement, _ in statements:
            cur.execute(statement.decode())
        cur.execute(f"CHECKSUM TABLE {table} EXTENDED")
        assert cur.fetchone()[1] == before
    assert sum(n for _, n in statements) == rows
    assert max(len(s) for s, _ in statements) <= LIMIT


def test_keys_with_gaps_and_both_ends_of_bigint_unsigned_are_all_read(db_settings, make_database):
    # Given 1,501 rows keyed from 0 to 2^64-1, in three clusters with huge gaps between them
    name = make_database("chunk_gaps")
    run_sql(
        db_settings,
        name,
        "CREATE TABLE t (k BIGINT UNSIGNED PRIMARY KEY, v VARCHAR(40))",
        f"INSERT INTO t SELECT seq, CONCAT('low ', seq) FROM {numbers(499, 0)}",
        f"INSERT INTO t SELECT 1000000000000 + seq, 'mid' FROM {numbers(499, 0)}",
        f"INSERT INTO t SELECT 18446744073709551615 - seq, 'top''s' FROM {numbers(500, 0)}",
    )
    # When it is read in ranges
    read = read_table(db_settings, name, "t")
    # Then every row loads back, and the gaps took a few jumps, not a scan of 2^64 keys
    assert_reloads_exactly(db_settings, name, "t", read.statements)
    assert read.selects < 40


def test_negative_keys_and_a_dense_run_after_a_sparse_one(db_settings, make_database):
    # Given keys every 1,000 from -1,000,000, then a dense run of rows ~100 bytes long from 0
    name = make_database("chunk_dense")
    run_sql(
        db_settings,
        name,
        "CREATE TABLE t (k INT PRIMARY KEY, v VARCHAR(200))",
        f"INSERT INTO t SELECT CAST(seq AS SIGNED) * 1000 - 1000000, 'sparse' FROM {numbers(999, 0)}",
        f"INSERT INTO t SELECT seq, REPEAT(CONCAT('x\\\\''', seq), 10) FROM {numbers(20000)}",
    )
    # When it is read with a first range sized for the sparse keys
    read = read_table(db_settings, name, "t", step=100_000)
    # Then the ranges that came back too big were read again smaller: all rows, every statement fits,
    # and each statement is still one range built by the server (none was read row by row)
    assert_reloads_exactly(db_settings, name, "t", read.statements)
    assert len(read.statements) > 100
    assert read.selects > len(read.statements)


def test_one_key_with_more_rows_than_a_statement_holds_is_read_row_by_row(db_settings, make_database):
    # Given a two-column key whose first column has one value for 3,000 rows of ~100 bytes
    name = make_database("chunk_onekey")
    run_sql(
        db_settings,
        name,
        "CREATE TABLE t (a INT, b INT, v VARCHAR(200), PRIMARY KEY (a, b))",
        f"INSERT INTO t SELECT 1, seq, REPEAT('y', 100) FROM {numbers(3000)}",
        f"INSERT INTO t SELECT 2, seq, 'after' FROM {numbers(10)}",
    )
    # When it is read in ranges of the first column
    read = read_table(db_settings, name, "t")
    # Then that key's rows come in several statements under the limit, and nothing is lost
    assert_reloads_exactly(db_settings, name, "t", read.statements)


def test_line_breaks_escaped_on_the_client_never_push_a_statement_past_the_limit(db_settings, make_database):
    # Given rows of nothing but line breaks, each one 20 kB that doubles once escaped (on the client,
    # after the server built the list): two rows fit the limit as they come, not once escaped
    name = make_database("chunk_breaks")
    run_sql(
        db_settings,
        name,
        "CREATE TABLE t (k INT PRIMARY KEY, v TEXT)",
        f"INSERT INTO t SELECT seq, REPEAT('\\r\\n', 10000) FROM {numbers(10)}",
    )
    # When it is read in ranges of two keys
    read = read_table(db_settings, name, "t", step=2)
    # Then every statement fits the limit with its breaks escaped, and the rows come back exactly
    assert all(b"\n" not in s[:-1] and b"\r" not in s for s, _ in read.statements)
    assert_reloads_exactly(db_settings, name, "t", read.statements)


def test_an_empty_range_inside_the_span_costs_one_jump(db_settings, make_database):
    # Given two rows far apart
    name = make_database("chunk_two")
    run_sql(
        db_settings,
        name,
        "CREATE TABLE t (k BIGINT PRIMARY KEY, v INT)",
        "INSERT INTO t VALUES (-9223372036854775808, 1), (9223372036854775807, 2)",
    )
    # When read with the default first range
    read = read_table(db_settings, name, "t")
    # Then a handful of statements: the first row's range, the next one (empty), one jump to the
    # other row and its range, where 2^64 keys read range by range would never end
    assert_reloads_exactly(db_settings, name, "t", read.statements)
    assert [n for _, n in read.statements] == [1, 1]
    assert read.selects <= 5


def test_dense_keys_after_very_sparse_ones_are_not_scanned_twice(db_settings, make_database):
    # Given 300 keys a million apart, then 30,000 consecutive keys: ranges grown wide on the sparse
    # keys would each hold the whole dense run
    name = make_database("chunk_jump")
    run_sql(
        db_settings,
        name,
        "CREATE TABLE t (k BIGINT PRIMARY KEY, v VARCHAR(60))",
        f"INSERT INTO t SELECT seq * 1000000, 'sparse' FROM {numbers(300)}",
        f"INSERT INTO t SELECT 400000000 + seq, CONCAT('dense ', seq) FROM {numbers(30000)}",
    )
    # When it is read
    read = read_table(db_settings, name, "t")
    # Then every row loads back, and the server stepped through about as many rows as there are
    assert_reloads_exactly(db_settings, name, "t", read.statements)
    assert read.rows_scanned < 1.2 * 30_300


def test_only_a_b_tree_primary_key_is_read_by_ranges(db_settings, make_database):
    # Given MEMORY tables keyed by a HASH index (its default) and by a B-tree
    name = make_database("chunk_hash")
    run_sql(
        db_settings,
        name,
        "CREATE TABLE hashed (k INT PRIMARY KEY, v INT) ENGINE=MEMORY",
        "CREATE TABLE ordered (k INT, v INT, PRIMARY KEY USING BTREE (k)) ENGINE=MEMORY",
    )
    # Then only the B-tree key is known to the reader: ranges on a hash key would each scan it all
    with admin_connect(db_settings, name) as conn, conn.cursor() as cur:
        layouts = table_layouts(cur, name)
    assert layouts["hashed"].primary_key == ()
    assert layouts["ordered"].primary_key == ("k",)


def test_a_range_of_text_rows_is_joined_as_bytes_not_checked_as_text(db_settings, make_database):
    # Given a table of UTF-8 text beside numbers, a time and bytes
    name = make_database("chunk_binary")
    run_sql(
        db_settings,
        name,
        "CREATE TABLE t (k INT PRIMARY KEY, v VARCHAR(40), n TEXT, at DATETIME, b VARBINARY(8)) "
        "CHARACTER SET utf8mb4",
        "INSERT INTO t VALUES (1, 'é''\\\\', NULL, '2026-12-08 01:02:03', 0x00ff)",
    )
    with admin_connect(db_settings, name) as conn, conn.cursor() as cur:
        columns = table_layouts(cur, name)["t"].columns
        # When the server builds its rows' literals, and joins them as a range read does
        cur.execute(
            f"SELECT CHARSET({row_expression(columns)}), "
            f"(SELECT CHARSET(GROUP_CONCAT({row_expression(columns)})) FROM t) FROM t"
        )
        # Then both are bytes: a text CONCAT would make GROUP_CONCAT check every row's characters
        # as it copies them (a few percent of a dump's server time), for values already final
        assert cur.fetchone() == ("binary", "binary")
