"""Rows past 16 MiB as SQL: read over several protocol packets, written, and restored exactly.

A value of 16 MiB or more reaches the client split over packets of 0xFFFFFF bytes. The server sends
such rows only when its max_allowed_packet allows them, so these tests raise it for their duration.
"""

from __future__ import annotations

from collections.abc import Iterator

import pymysql.cursors
import pytest

from cloudbackup.backup import backup_database
from cloudbackup.catalog import find_backup
from cloudbackup.mysql.connection import connect
from cloudbackup.mysql.wire import iter_values
from cloudbackup.restore import restore_backup
from cloudbackup.storage.local import LocalStorage
from tests.fixtures.compare import assert_databases_equal
from tests.fixtures.mariadb import admin_connect
from tests.fixtures.numbers import numbers
from tests.integration.test_backup_wire import PlainCursor

pytestmark = pytest.mark.integration

PACKET = 0xFFFFFF
# Lengths around the packet boundary: a payload (4-byte length prefix + value) of exactly one full
# packet, which needs an empty packet after it; one byte more; and a value needing a 9-byte prefix.
LENGTHS = [10, PACKET - 4, 3, PACKET - 3, 0, (1 << 24) + 5, 7]


@pytest.fixture
def big_packets(db_settings) -> Iterator[None]:
    """The server's max_allowed_packet at 96 MiB for connections opened inside the test."""
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT @@GLOBAL.max_allowed_packet")
        (saved,) = cur.fetchone()
        cur.execute("SET GLOBAL max_allowed_packet = %s", (96 << 20,))
    try:
        yield
    finally:
        with admin_connect(db_settings) as conn, conn.cursor() as cur:
            cur.execute("SET GLOBAL max_allowed_packet = %s", (saved,))


def read(db_settings, query: str, *, fast: bool) -> list[bytes | None]:
    conn = connect(db_settings, database="mysql", use_unicode=False)
    try:
        cur = conn.cursor(pymysql.cursors.SSCursor)
        cur.execute("SET character_set_results = NULL")
        cur.execute(query)
        result = [v for batch in iter_values(cur if fast else PlainCursor(cur)) for v in batch]
        cur.execute("SELECT 42")  # the packet sequence is still in step with the server
        assert list(cur.fetchall()) == [(42,)]
        return result
    finally:
        conn.close()


def test_values_over_several_packets_are_read_whole(db_settings, big_packets):
    # Given a result whose values straddle the 16 MiB packet boundary, between small ones
    query = " UNION ALL ".join(f"SELECT REPEAT(CHAR({65 + i}), {n}) AS v" for i, n in enumerate(LENGTHS))
    # When our packet parser reads it
    fast = read(db_settings, query, fast=True)
    # Then every value is whole, as pymysql itself reads it
    assert [len(v or b"") for v in fast] == LENGTHS
    assert [v[:1] for v in fast if v] == [bytes([65 + i]) for i, n in enumerate(LENGTHS) if n]
    assert fast == read(db_settings, query, fast=False)


def test_a_row_past_16_mib_is_backed_up_and_restored(db_settings, big_packets, make_database, tmp_path):
    # Given a blob of 20 MB (40 MB as hex SQL) and a text of 17 MB, among small rows
    name = make_database("longrow")
    with admin_connect(db_settings, name) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE docs (id INT PRIMARY KEY, body LONGBLOB, note LONGTEXT)")
        cur.execute(f"INSERT INTO docs SELECT seq, RANDOM_BYTES(100), 'small' FROM {numbers(50)}")
        cur.execute("INSERT INTO docs VALUES (100, REPEAT(RANDOM_BYTES(1000), 20000), 'big blob')")
        cur.execute("INSERT INTO docs VALUES (101, NULL, REPEAT('it''s \\\\ ', 17 << 17))")
    # When it is backed up and restored into another database
    rows = round_trip(db_settings, name, make_database, tmp_path)
    # Then every row is back, bit for bit
    assert rows == {"docs": 52}


def test_a_mediumtext_of_quotes_past_16_mib_as_sql_is_backed_up_whole(
    db_settings, big_packets, make_database, tmp_path
):
    # Given MEDIUMTEXTs of 9 MB of quotes: 18 MB once escaped, past the 16 MiB that MariaDB's
    # GROUP_CONCAT may keep of one row's literal, without a warning (it did of a binary one)
    name = make_database("quotes")
    with admin_connect(db_settings, name) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE q (id INT PRIMARY KEY, body MEDIUMTEXT) CHARACTER SET utf8mb4")
        cur.execute(f"INSERT INTO q SELECT seq, REPEAT('''', 9000000 + seq) FROM {numbers(2)}")
    # When they are backed up and restored into another database
    rows = round_trip(db_settings, name, make_database, tmp_path)
    # Then both rows are back, bit for bit
    assert rows == {"q": 2}


def round_trip(db_settings, name: str, make_database, tmp_path) -> dict[str, int]:
    """Back `name` up, restore it into a new database, assert the two equal: the rows per table."""
    store = LocalStorage(tmp_path)
    manifest = backup_database(db_settings, name, store, source="t")
    target = make_database("back")
    restore_backup(db_settings, find_backup([store], manifest.id), target_database=target)
    assert_databases_equal(db_settings, name, target)
    return {t.name: t.rows for t in manifest.tables}
