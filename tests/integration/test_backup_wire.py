"""The row reader: the fast packet parser gives what pymysql itself gives, and the connection stays usable."""

from __future__ import annotations

import pymysql.cursors
import pytest

from cloudbackup.mysql.connection import connect
from cloudbackup.mysql.wire import iter_values
from tests.fixtures.numbers import numbers

pytestmark = pytest.mark.integration

# Every byte value, NULLs, and values whose length prefix takes 1, 3 and 4 bytes (≥251, ≥65536).
QUERY = (
    # Raw bytes, not QUOTEd: MySQL's QUOTE converts to the connection's character set and refuses them
    "SELECT IF(seq % 7 = 0, NULL, CONCAT(_binary'(', seq, ',',"
    " REPEAT(CHAR(seq % 256), IF(seq = 4999, 70000, seq % 300)), ')'))"
    f" FROM {numbers(5000)}"
)


class PlainCursor:
    """Hides pymysql's internals, so iter_values takes its fetchmany() path."""

    def __init__(self, cursor):
        self._cursor = cursor
        self.connection = None

    def fetchmany(self, size):
        return self._cursor.fetchmany(size)


def values(db_settings, *, fast: bool) -> list[bytes | None]:
    conn = connect(db_settings, database="mysql", use_unicode=False)
    try:
        cur = conn.cursor(pymysql.cursors.SSCursor)
        cur.execute("SET character_set_results = NULL")
        cur.execute(QUERY)
        batches = iter_values(cur if fast else PlainCursor(cur))
        result = [v for batch in batches for v in batch]
        # the connection is in step with the server afterwards
        cur.execute("SELECT 42")
        assert list(cur.fetchall()) == [(42,)]
        return result
    finally:
        conn.close()


def test_the_packet_parser_reads_what_pymysql_reads(db_settings):
    fast = values(db_settings, fast=True)
    assert fast == values(db_settings, fast=False)
    assert len(fast) == 5000
    assert fast.count(None) == 5000 // 7
    assert max(len(v) for v in fast if v is not None) > 70000
