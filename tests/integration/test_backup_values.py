"""Backups against the real MariaDB: values come back bit for bit, frames read alone, statements fit.

Each backup is loaded back with the stock client (`mysql`), from the frames after the database frame,
into another database, and compared by the server itself (`<=>`, HEX, CHECKSUM TABLE).
"""

from __future__ import annotations

import subprocess

import pytest

from cloudbackup.backup import backup_database
from cloudbackup.catalog import list_backups
from cloudbackup.format.frames import decompress_stream
from cloudbackup.format.manifest import Manifest
from cloudbackup.mysql.connection import connect
from cloudbackup.mysql.rows import iter_inserts, table_layouts
from cloudbackup.storage.local import LocalStorage
from tests.fixtures.mariadb import admin_connect, flavour, mysql_client_args
from tests.fixtures.numbers import numbers

pytestmark = pytest.mark.integration

VALUES_TABLE = """
CREATE TABLE vals (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  f FLOAT, d DOUBLE, f73 FLOAT(7,3), dec65 DECIMAL(65,30),
  bt BIT(64), bt1 BIT(1),
  vb VARBINARY(300), bl LONGBLOB, bn BINARY(4),
  l1 VARCHAR(300) CHARACTER SET latin1, l1t TEXT CHARACTER SET latin1,
  u8 VARCHAR(300) CHARACTER SET utf8mb4, u3 TEXT CHARACTER SET utf8mb3,
  cp VARCHAR(50) CHARACTER SET cp1251, sj VARCHAR(50) CHARACTER SET sjis,
  j JSON, dt DATETIME(6), ts TIMESTAMP(3) NULL DEFAULT NULL, tm TIME(4), dd DATE, yr YEAR,
  e ENUM('a','b','c'), st SET('x','y'),
  g GEOMETRY, pt POINT {srid_4326},{mariadb_types}
  gen_v DOUBLE AS (d / 2) VIRTUAL, gen_s VARCHAR(20) AS (CONCAT('s', yr)) STORED,
  inv INT INVISIBLE DEFAULT 7
) ENGINE=InnoDB
"""
COLUMNS = [
    "f", "d", "f73", "dec65", "bt", "bt1", "vb", "bl", "bn", "l1", "l1t", "u8", "u3", "cp", "sj", "j",
    "dt", "ts", "tm", "dd", "yr", "e", "st", "g", "pt", "i6", "uu", "gen_v", "gen_s", "inv",
]  # fmt: skip
ALL_BYTES = bytes(range(256))
TRICKY_TEXT = 'it\'s a "quote" \\ back\\slash \0 nul \x1a ctrl-z\n-- not a comment; /* nor this */ 😀 é'
ROWS = [
    # floats that 6-digit printing loses, doubles at the edges, every byte, zero dates, fractions
    {"f": 0.1, "d": 1 / 3, "f73": 1.234, "dec65": "12345678901234567890.123456789012345678901234567890",
     "bt": 2**64 - 1, "bt1": 1, "vb": ALL_BYTES, "bl": ALL_BYTES * 40, "bn": b"\0\0\0\0",
     "l1": ALL_BYTES, "l1t": b"caf\xe9 \\ ' \x00", "u8": TRICKY_TEXT, "u3": "äöü \\ '",
     "cp": "Привет".encode("cp1251"), "sj": "日本語".encode("shift_jis"),
     "j": '{"a": "é\\"\\\\", "n": 1.5e300, "u": "\\u0000"}',
     "dt": "0000-00-00 00:00:00", "ts": "2038-01-19 03:14:07.999", "tm": "-838:59:59.0000",
     "dd": "0000-00-00", "yr": 0, "e": "b", "st": "x,y", "i6": "::ffff:1.2.3.4",
     "uu": "123e4567-e89b-12d3-a456-426614174000", "inv": 42},
    {"f": 3.4028234e38, "d": 2.2250738585072014e-308, "f73": -9999.999,
     "dec65": "-0.000000000000000000000000000001",
     "bt": 0, "bt1": 0, "vb": b"", "bl": b"", "bn": b"\xff\x00'\\", "l1": b"", "l1t": b"",
     "u8": "", "u3": "", "cp": b"", "sj": b"", "j": "[]", "dt": "2024-02-29 23:59:59.999999",
     "ts": "1970-01-01 00:00:01.000", "tm": "838:59:59.9999", "dd": "9999-12-31", "yr": 2155,
     "e": "a", "st": "", "i6": "::", "uu": "00000000-0000-0000-0000-000000000000", "inv": None},
    {"f": 1.4e-45, "d": 5e-324, "f73": 0.001, "dec65": "0", "bt": 5, "bt1": None, "vb": b"'", "bl": None,
     "bn": None, "l1": None, "l1t": None, "u8": None, "u3": None, "cp": None, "sj": None, "j": None,
     "dt": None, "ts": None, "tm": None, "dd": None, "yr": None, "e": None, "st": None, "i6": None,
     "uu": None, "inv": 0},
    {"f": -16777217.0, "d": 1.7976931348623157e308, "f73": None, "dec65": None, "bt": None},
]  # fmt: skip
# Only MariaDB has INET6, UUID and system-versioned tables; each server names a column's SRID its own way.
MARIADB_ONLY = ("i6", "uu")
FLAVOURS = {
    "mariadb": {"srid_4326": "REF_SYSTEM_ID=4326", "mariadb_types": "\n  i6 INET6, uu UUID,"},
    "mysql": {"srid_4326": "SRID 4326", "mariadb_types": ""},
}
GEOMETRIES = [
    ("ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))', 3857)", "ST_GeomFromText('POINT(1.5 -2.25)', 4326)"),
    ("ST_GeomFromText('GEOMETRYCOLLECTION(POINT(1 1),LINESTRING(0 0,1 1))')", "NULL"),
]


def load_frames(db_settings, store: LocalStorage, manifest: Manifest, target: str, start_kind="header"):
    """Load the backup with the stock client into `target`, from the frame of kind `start_kind` on."""
    start = next(f.offset for f in manifest.frames if f.kind == start_kind)
    sql = b"".join(decompress_stream(manifest.compression, store.iter_range(manifest.data.key, start)))
    subprocess.run([*mysql_client_args(db_settings), target], input=sql, check=True)


@pytest.fixture
def values_db(db_settings, make_database):
    name = make_database("vals")
    with admin_connect(db_settings, name) as conn, conn.cursor() as cur:
        cur.execute("SET sql_mode = 'NO_AUTO_VALUE_ON_ZERO', time_zone = '+00:00'")
        mariadb = flavour(db_settings) == "mariadb"
        cur.execute(VALUES_TABLE.format(**FLAVOURS[flavour(db_settings)]))
        for row in ROWS:
            cols = [c for c in row if c in COLUMNS and (mariadb or c not in MARIADB_ONLY)]
            sql = f"INSERT INTO vals ({','.join(cols)}) VALUES ({','.join(['%s'] * len(cols))})"
            cur.execute(sql, [row[c] for c in cols])
        for i, (g, pt) in enumerate(GEOMETRIES, start=1):
            cur.execute(f"UPDATE vals SET g = {g}, pt = {pt} WHERE id = {i}")
        cur.execute("INSERT INTO vals (id) VALUES (0)")  # an explicit zero in an AUTO_INCREMENT column
        versioning = " WITH SYSTEM VERSIONING" if mariadb else ""
        cur.execute(f"CREATE TABLE hist (id INT PRIMARY KEY, v VARCHAR(10)){versioning}")
        cur.execute("INSERT INTO hist VALUES (1, 'old'), (2, 'gone')")
        cur.execute("UPDATE hist SET v = 'new' WHERE id = 1")
        cur.execute("DELETE FROM hist WHERE id = 2")
    return name


def test_every_value_comes_back_bit_for_bit(db_settings, make_database, values_db, tmp_path):
    # Given a table of values that plain dumps get wrong, and a system-versioned table with history
    store = LocalStorage(tmp_path)
    # When it is backed up and loaded back by the stock client into another database
    manifest = backup_database(db_settings, values_db, store, source="test")
    target = make_database("vals_back")
    load_frames(db_settings, store, manifest, target)
    # Then the server finds every column of every row identical, byte for byte
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT id FROM `{values_db}`.vals ORDER BY id")
        assert [r[0] for r in cur.fetchall()] == list(range(len(ROWS) + 1))
        cur.execute(f"SELECT id FROM `{target}`.vals ORDER BY id")
        assert [r[0] for r in cur.fetchall()] == list(range(len(ROWS) + 1))
        for column in COLUMNS:
            if column in MARIADB_ONLY and flavour(db_settings) != "mariadb":
                continue
            cur.execute(
                f"SELECT s.id FROM `{values_db}`.vals s LEFT JOIN `{target}`.vals d ON s.id = d.id "
                f"WHERE NOT (s.{column} <=> d.{column}) OR NOT (HEX(s.{column}) <=> HEX(d.{column})) "
                f"OR d.id IS NULL"
            )
            assert cur.fetchall() == (), f"column {column} differs"
        cur.execute(
            f"SELECT COUNT(*) FROM `{values_db}`.vals s JOIN `{target}`.vals d ON s.id = d.id "
            "WHERE CAST(s.f AS DOUBLE) <=> CAST(d.f AS DOUBLE) AND s.d <=> d.d"
        )
        assert cur.fetchone()[0] == len(ROWS) + 1  # FLOAT/DOUBLE bits, not just 6 digits
        cur.execute(f"CHECKSUM TABLE `{values_db}`.vals, `{target}`.vals EXTENDED")
        (_, source_sum), (_, target_sum) = cur.fetchall()
        assert source_sum == target_sum
        # and a system-versioned table gives back its current rows only
        cur.execute(f"SELECT id, v FROM `{target}`.hist ORDER BY id")
        assert cur.fetchall() == ((1, "new"),)
        if flavour(db_settings) == "mariadb":
            cur.execute(f"SELECT COUNT(*) FROM `{target}`.hist FOR SYSTEM_TIME ALL")
            assert cur.fetchone()[0] == 1
    assert manifest.frames[0].kind == "header"
    assert {t.name: t.rows for t in manifest.tables} == {"hist": 1, "vals": len(ROWS) + 1}


def test_one_table_is_read_alone_by_its_frame_offsets(db_settings, sakila_db, tmp_path):
    # Given a backup of sakila
    store = LocalStorage(tmp_path)
    manifest = backup_database(db_settings, sakila_db, store, source="test")
    everything = b"".join(decompress_stream("zstd", store.iter_range(manifest.data.key)))
    # When only the `film` frame is read (a ranged read) and decompressed
    frame = next(f for f in manifest.frames if f.kind == "table" and f.name == "film")
    section = b"".join(
        decompress_stream("zstd", store.iter_range(manifest.data.key, frame.offset, frame.length))
    )
    # Then it is exactly that table's section of the whole dump: its DDL, its rows, its triggers
    raw_start = sum(f.raw_length for f in manifest.frames if f.offset < frame.offset)
    assert section == everything[raw_start : raw_start + frame.raw_length]
    assert b"DROP TABLE IF EXISTS `film`;" in section
    assert b"INSERT INTO `film` (" in section
    assert b"CREATE TABLE `actor`" not in section
    assert b"INSERT INTO `actor`" not in section
    assert section.count(b"TRIGGER") >= 3  # sakila's film triggers travel with it
    assert frame.rows == 1000
    assert sum(1 for f in manifest.frames if f.kind == "table") == manifest.counts.tables
    assert manifest.data.size == sum(f.length for f in manifest.frames)
    assert list_backups([store])[0].id == manifest.id


def test_statements_stay_under_the_limit_and_hold_every_row(db_settings, make_database):
    # Given a table of 3,000 rows of ~200 bytes
    name = make_database("limit")
    with admin_connect(db_settings, name) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(200), b VARBINARY(50))")
        cur.execute(
            "INSERT INTO t SELECT seq, REPEAT(CONCAT('x''\\\\', seq), 20), UNHEX(LEFT(SHA2(seq, 256), 40)) "
            f"FROM {numbers(3000)}"
        )
    # When its rows are streamed as statements of at most 16 KiB
    limit = 16 << 10
    conn = connect(db_settings, database=name)
    try:
        with conn.cursor() as cur:
            columns = table_layouts(cur, name)["t"].columns
        statements = list(iter_inserts(conn, name, "t", columns, limit=limit, target=8 << 10))
    finally:
        conn.close()
    # Then no statement is over the limit, and together they load every row back
    assert max(len(s) for s, _ in statements) <= limit
    assert len(statements) > 20
    assert sum(n for _, n in statements) == 3000
    with admin_connect(db_settings, name) as conn, conn.cursor() as cur:
        cur.execute("CHECKSUM TABLE t EXTENDED")
        before = cur.fetchone()[1]
        cur.execute("TRUNCATE t")
        for statement, _ in statements:
            cur.execute(statement.decode())
        cur.execute("CHECKSUM TABLE t EXTENDED")
        assert cur.fetchone()[1] == before
