"""Backup with backup_database, restore with restore_backup: the same database, object for object."""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

import pytest

from cloudbackup.errors import OperationError, UsageError
from cloudbackup.restore import restore_backup
from cloudbackup.verify import verify_backup
from tests.fixtures.compare import assert_databases_equal
from tests.fixtures.mariadb import admin_connect, flavour
from tests.integration.restore_helpers import back_up, schemas_like

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("compression", ["zstd", "gzip"])
def test_sakila_round_trip(db_settings, sakila_db, make_database, tmp_path, compression):
    # Given a backup of sakila
    entry = back_up(db_settings, sakila_db, tmp_path, compression)
    target = make_database("rs")  # exists and is empty: allowed
    # When it is restored into another database over three connections
    result = restore_backup(db_settings, entry, target_database=target, jobs=3)
    # Then the copy equals the source, and nothing is left behind
    assert_databases_equal(db_settings, sakila_db, target)
    assert result.rows == sum(t.rows for t in entry.manifest.tables) > 40_000
    assert result.tables == len(entry.manifest.tables)
    assert schemas_like(db_settings, target) == [target]


def test_every_type_round_trip_into_a_new_database(db_settings, every_type_db, make_database, tmp_path):
    entry = back_up(db_settings, every_type_db, tmp_path)
    target = make_database("re")
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        cur.execute(
            f"DROP DATABASE `{target}`"
        )  # a new name: the restore creates it, with the source collation
    restore_backup(db_settings, entry, target_database=target, jobs=2)
    assert_databases_equal(db_settings, every_type_db, target)


def test_a_non_empty_target_is_refused_and_untouched(db_settings, sakila_db, make_database, tmp_path):
    entry = back_up(db_settings, sakila_db, tmp_path)
    target = make_database("rn")
    with admin_connect(db_settings, target) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE keep_me (id int primary key)")
    with pytest.raises(UsageError, match=r"exists and is not empty \(1 tables/views\)"):
        restore_backup(db_settings, entry, target_database=target)
    with admin_connect(db_settings, target) as conn, conn.cursor() as cur:
        cur.execute("SHOW TABLES")
        assert cur.fetchall() == (("keep_me",),)


def test_a_table_subset_reads_only_its_frames(db_settings, sakila_db, make_database, tmp_path):
    entry = back_up(db_settings, sakila_db, tmp_path)
    target = make_database("rt")
    result = restore_backup(db_settings, entry, target_database=target, tables=["actor", "film_actor"])
    assert result.tables == 2
    with admin_connect(db_settings, target) as conn, conn.cursor() as cur:
        cur.execute("SHOW FULL TABLES")
        assert sorted(r[0] for r in cur.fetchall()) == ["actor", "film_actor"]
    assert_databases_equal(db_settings, sakila_db, target, tables=["actor", "film_actor"])


def test_an_unknown_table_is_a_usage_error_naming_it(db_settings, sakila_db, tmp_path):
    entry = back_up(db_settings, sakila_db, tmp_path)
    with pytest.raises(UsageError, match="--table no_such_table"):
        restore_backup(
            db_settings, entry, target_database="cbt_never_created", tables=["actor", "no_such_table"]
        )
    assert schemas_like(db_settings, "cbt_never_created") == []


def test_a_merge_table_is_restored_without_writing_its_rows_twice(db_settings, make_database, tmp_path):
    # Given a MyISAM table with 2 rows and a MERGE table over it that inserts into it
    source = make_database("merge")
    with admin_connect(db_settings, source) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE base (a int) ENGINE=MyISAM")
        cur.execute("INSERT INTO base VALUES (9), (10)")
        cur.execute("CREATE TABLE zmerged (a int) ENGINE=MRG_MyISAM UNION=(base) INSERT_METHOD=LAST")
    entry = back_up(db_settings, source, tmp_path)
    target = make_database("mergecopy")
    # When it is restored
    restore_backup(db_settings, entry, target_database=target)
    # Then each row is there once: the MERGE table's rows are the base table's, restored with it
    assert_databases_equal(db_settings, source, target)
    assert {t.name: t.rows for t in entry.manifest.tables} == {"base": 2, "zmerged": 0}


def test_a_table_in_its_own_file_per_table_tablespace_round_trips(db_settings, make_database, tmp_path):
    # Given a table created with TABLESPACE innodb_file_per_table (its own file, the default): MySQL's
    # SHOW CREATE TABLE keeps saying so, also of a table moved out of a general tablespace and back
    source = make_database("fpt")
    with admin_connect(db_settings, source) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE t (id int primary key, v varchar(10)) TABLESPACE innodb_file_per_table")
        cur.execute(
            "CREATE TABLE p (id int primary key) PARTITION BY HASH (id)"
            " (PARTITION p0 TABLESPACE = innodb_file_per_table, PARTITION p1)"
        )
        cur.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
        cur.execute("INSERT INTO p VALUES (1), (2), (3)")
    entry = back_up(db_settings, source, tmp_path)
    target = make_database("fptcopy")
    # When it is restored
    restore_backup(db_settings, entry, target_database=target)
    # Then the copy is the same, clause and rows
    assert_databases_equal(db_settings, source, target)


def test_a_table_in_a_general_tablespace_is_warned_of_at_backup_and_refused_at_restore(
    db_settings, make_database, tmp_path, caplog
):
    if flavour(db_settings) != "mysql":
        pytest.skip("MariaDB has no general tablespaces (it ignores the clause)")
    # Given a table in a general tablespace: the server's, outside any database
    source = make_database("gts")
    space = f"cbt_ts_{source[-8:]}"
    with admin_connect(db_settings, source) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE TABLESPACE `{space}` ADD DATAFILE '{space}.ibd' ENGINE=InnoDB")
        try:
            cur.execute(f"CREATE TABLE t (id int primary key) TABLESPACE `{space}`")
            # When it is backed up
            with caplog.at_level(logging.WARNING):
                entry = back_up(db_settings, source, tmp_path)
        finally:
            cur.execute("DROP TABLE IF EXISTS t")
            cur.execute(f"DROP TABLESPACE `{space}`")
    # Then one line names the table every restore will refuse, and why, as verify does
    (warning,) = [r.getMessage() for r in caplog.records]
    assert "\n" not in warning
    assert f"table `t` of {source} uses TABLESPACE" in warning
    said = warning.removesuffix(": every restore of this backup will refuse it as it is")
    assert verify_backup(entry).unrestorable == [said]
    # and a restore refuses it before anything changes
    target = make_database("gtscopy")
    with pytest.raises(OperationError, match="uses TABLESPACE"):
        restore_backup(db_settings, entry, target_database=target)
    assert schemas_like(db_settings, target) == [target]


def test_a_json_duality_view_round_trips(db_settings, make_database, tmp_path, caplog):
    if flavour(db_settings) != "mysql":
        pytest.skip("JSON duality views are MySQL's (9.4 and later)")
    # Given a JSON relational duality view over a table of the database
    source = make_database("dual")
    with admin_connect(db_settings, source) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE cust (id int primary key, name varchar(20))")
        cur.execute("INSERT INTO cust VALUES (1, 'a'), (2, 'b')")
        cur.execute(
            "CREATE JSON RELATIONAL DUALITY VIEW dv AS"
            " SELECT JSON_DUALITY_OBJECT('_id': id, 'name': name) FROM cust"
        )
    # When it is backed up and restored
    with caplog.at_level(logging.WARNING):
        entry = back_up(db_settings, source, tmp_path)
    target = make_database("dualcopy")
    restore_backup(db_settings, entry, target_database=target)
    # Then nothing was warned of, and the copy has the same view, which reads the same documents
    assert [r.getMessage() for r in caplog.records] == []
    assert_databases_equal(db_settings, source, target)
    with admin_connect(db_settings, target) as conn, conn.cursor() as cur:
        cur.execute("SELECT JSON_EXTRACT(data, '$.name') FROM dv ORDER BY JSON_EXTRACT(data, '$._id')")
        assert cur.fetchall() == (('"a"',), ('"b"',))


def test_a_table_with_its_own_data_directory_is_warned_of_at_backup(db_settings, make_database, caplog):
    if flavour(db_settings) != "mariadb":
        pytest.skip("MySQL takes DATA DIRECTORY only inside innodb_directories (the test server has none)")
    # Given an InnoDB table whose file lives in a directory of its own, outside the data directory
    source = make_database("ddir")
    outside = Path(tempfile.mkdtemp(prefix="cbt_ddir_"))
    outside.chmod(0o777)  # (the server writes there as its own user)
    try:
        with admin_connect(db_settings, source) as conn, conn.cursor() as cur:
            cur.execute(f"CREATE TABLE t (id int primary key) DATA DIRECTORY = '{outside}'")
        # When it is backed up
        with caplog.at_level(logging.WARNING):
            entry = back_up(db_settings, source, outside / "store")
        with admin_connect(db_settings, source) as conn, conn.cursor() as cur:
            cur.execute("DROP TABLE t")
    finally:
        shutil.rmtree(outside, ignore_errors=True)
    # Then one line names the table every restore will refuse, and why
    (warning,) = [r.getMessage() for r in caplog.records]
    assert f"table `t` of {source} uses DIRECTORY, which places files outside the data directory" in warning
    assert entry.manifest.unrestorable == [
        warning.removesuffix(": every restore of this backup will refuse it as it is")
    ]


def test_a_javascript_library_is_named_at_backup_as_not_held(db_settings, make_database, tmp_path, caplog):
    if flavour(db_settings) != "mysql":
        pytest.skip("JavaScript libraries are MySQL's (9.2 and later)")
    # Given a database holding a JavaScript library (created even where no JavaScript engine runs)
    source = make_database("jslib")
    with admin_connect(db_settings, source) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE t (id int primary key)")
        cur.execute("CREATE LIBRARY lib LANGUAGE JAVASCRIPT AS $$ export function f() { return 1; } $$")
    # When it is backed up; Then one line names the library the backup does not hold
    with caplog.at_level(logging.WARNING):
        back_up(db_settings, source, tmp_path)
    (warning,) = [r.getMessage() for r in caplog.records]
    assert "\n" not in warning
    assert f"library `lib` of {source} is not in the backup" in warning


# A projected system any MySQL can define (EPSG 3857's definition under an SRID of its own).
PSEUDO_MERCATOR = (
    'PROJCS["cbt grid",GEOGCS["WGS 84",DATUM["World Geodetic System 1984",SPHEROID["WGS 84",6378137,'
    '298.257223563]],PRIMEM["Greenwich",0],UNIT["degree",0.017453292519943278],AXIS["Lat",NORTH],'
    'AXIS["Lon",EAST]],PROJECTION["Popular Visualisation Pseudo Mercator"],PARAMETER["Latitude of '
    'natural origin",0],PARAMETER["Longitude of natural origin",0],PARAMETER["False easting",0],'
    'PARAMETER["False northing",0],UNIT["metre",1],AXIS["X",EAST],AXIS["Y",NORTH]]'
)


def test_a_column_bound_to_a_users_spatial_reference_system_is_warned_of_at_backup(
    db_settings, make_database, tmp_path, caplog
):
    if flavour(db_settings) != "mysql":
        pytest.skip("spatial reference systems of one's own are MySQL's")
    # Given a column bound to a spatial reference system defined on this server (not in any database)
    source = make_database("srs")
    srid = 40_000_000 + int(source[-6:], 16) % 1_000_000
    with admin_connect(db_settings, source) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE SPATIAL REFERENCE SYSTEM {srid} NAME 'cbt{srid}' DEFINITION '{PSEUDO_MERCATOR}'")
        try:
            cur.execute(f"CREATE TABLE places (id int primary key, g geometry NOT NULL SRID {srid})")
            cur.execute("CREATE TABLE plain (id int primary key, g geometry SRID 4326)")
            # When it is backed up
            with caplog.at_level(logging.WARNING):
                back_up(db_settings, source, tmp_path)
        finally:
            cur.execute("DROP TABLE IF EXISTS places")
            cur.execute(f"DROP SPATIAL REFERENCE SYSTEM IF EXISTS {srid}")
    # Then one line names the table and the SRID a target server must have first (none for EPSG's)
    (warning,) = [r.getMessage() for r in caplog.records]
    assert "\n" not in warning
    assert f"table `places` of {source} has columns bound to SRID {srid}, a spatial reference" in warning
