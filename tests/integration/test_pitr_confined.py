"""The replay of an archived binlog runs only what a restore may run: a logged statement that reaches
outside the database (the server's settings, accounts or objects) never runs, whether the server wrote
it or someone who can write to the bucket put it there."""

from __future__ import annotations

import dataclasses
import hashlib
import zlib
from pathlib import Path

import pymysql
import pytest

from cloudbackup.backup import backup_database
from cloudbackup.binlog import events as ev
from cloudbackup.binlog.archive import archive_binlog
from cloudbackup.binlog.pitr import restore_to_time
from cloudbackup.binlog.segments import index_key, read_indexes
from cloudbackup.dburl import DbSettings
from cloudbackup.errors import OperationError
from cloudbackup.storage.local import LocalStorage
from tests.fixtures.compare import q
from tests.fixtures.mariadb import admin_connect, flavour
from tests.integration.pitr_helpers import next_second, run, schema_exists

pytestmark = pytest.mark.integration

# The same length, so the forged event keeps its size and every position after it.
LOGGED = b"CREATE TABLE zzzzzzzzzzzz (a INT)"
FORGED = b"SET GLOBAL max_connections = 4321"


def _value(settings: DbSettings, sql: str) -> object:
    with admin_connect(settings) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchone()[0]


def _forge(store: LocalStorage, source: str, logged: bytes, forged: bytes) -> None:
    """Put `forged` where the archive holds the statement `logged`, as someone who can write to the
    bucket could: the event's checksum, the segment's SHA-256 and its index made to match."""
    (segment,) = [
        s for s in read_indexes(store, source) if logged in Path(store.location(s.key)).read_bytes()
    ]
    path = Path(store.location(segment.key))
    data = path.read_bytes()
    events, _ = ev.split_events(data)
    at = 0
    for event in events:
        if logged in event.raw:
            body = event.raw[:-4].replace(logged, forged)
            data = data[:at] + body + zlib.crc32(body).to_bytes(4, "little") + data[at + event.size :]
            break
        at += event.size
    path.write_bytes(data)
    forged_index = dataclasses.replace(segment, sha256=hashlib.sha256(data).hexdigest())
    Path(store.location(index_key(source, segment.seq))).write_bytes(forged_index.to_json())


def test_a_statement_forged_into_the_archive_is_refused_before_it_runs(
    log_server, make_log_database, tmp_path
):
    # Given a backup, then a table created in the window, archived
    db = make_log_database("forged")
    store = LocalStorage(tmp_path / "store")
    backup_database(log_server, db, store, source="src")
    run(log_server, LOGGED.decode(), database=db)
    to_time = next_second()
    run(log_server, f"CREATE TABLE {q(db)}.later (a INT)")  # (the archive reaches past the time)
    archive_binlog(log_server, store, "src")
    # and that statement in the archive replaced by one that changes the whole server
    _forge(store, "src", LOGGED, FORGED)
    before = _value(log_server, "SELECT @@GLOBAL.max_connections")
    target = db + "_t"
    try:
        # When the database is restored to a time after it
        with pytest.raises(OperationError) as refused:
            restore_to_time(log_server, [store], db, to_time, target_database=target)
        # Then the forged statement is refused in one line, before it ran: the server is as it was, and
        # nothing was published
        assert "refused" in str(refused.value)
        assert "GLOBAL" in str(refused.value)
        assert "\n" not in str(refused.value)
        assert _value(log_server, "SELECT @@GLOBAL.max_connections") == before
        assert not schema_exists(log_server, target)
    finally:
        run(log_server, f"SET GLOBAL max_connections = {before}")


SRID = 4000123
SRS = (
    f"CREATE SPATIAL REFERENCE SYSTEM {SRID} NAME 'cloudbackup test' DEFINITION 'GEOGCS[\"WGS 84\","
    'DATUM["World Geodetic System 1984",SPHEROID["WGS 84",6378137,298.257223563]],PRIMEM["Greenwich",0],'
    'UNIT["degree",0.017453292519943278],AXIS["Lat",NORTH],AXIS["Lon",EAST]]\''
)


def test_the_servers_own_objects_logged_in_the_window_are_not_made_again(
    log_server, make_log_database, tmp_path
):
    # Given a backup, then, from a session using the database, an object of the server itself made
    # (MariaDB: an account made again with a password; MySQL: a spatial reference system), and changed
    # or dropped after the time restored to
    db = make_log_database("server_objects")
    store = LocalStorage(tmp_path / "store")
    backup_database(log_server, db, store, source="src")
    mariadb = flavour(log_server) == "mariadb"
    user = "'cbt_replayed'@'%'"
    if mariadb:
        run(log_server, f"CREATE OR REPLACE USER {user} IDENTIFIED BY 'one'", database=db)
    else:
        run(log_server, SRS, database=db)
    run(log_server, f"CREATE TABLE {q(db)}.t (id INT PRIMARY KEY)")
    to_time = next_second()
    if mariadb:
        run(log_server, f"SET PASSWORD FOR {user} = PASSWORD('two')")
    else:
        run(log_server, f"DROP SPATIAL REFERENCE SYSTEM {SRID}")
    archive_binlog(log_server, store, "src")
    target = db + "_t"
    try:
        # When the database is restored to that time, on the same server
        restore_to_time(log_server, [store], db, to_time, target_database=target)
        # Then the database's own DDL was replayed, and the server's object was left as it is now
        assert _value(
            log_server, f"SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{target}'"
        )
        if mariadb:
            pymysql.connect(
                host=log_server.host, port=log_server.port, user="cbt_replayed", password="two"
            ).close()
        else:
            assert not _value(
                log_server,
                f"SELECT COUNT(*) FROM information_schema.ST_SPATIAL_REFERENCE_SYSTEMS WHERE SRS_ID = {SRID}",
            )
    finally:
        if mariadb:
            run(log_server, f"DROP USER IF EXISTS {user}")
        else:
            run(log_server, f"DROP SPATIAL REFERENCE SYSTEM IF EXISTS {SRID}")


@pytest.mark.parametrize("forged", ["USE", "sql_log_bin"])
def test_a_forged_statement_the_check_would_skip_is_refused_not_run(
    log_server, make_log_database, tmp_path, forged
):
    # Given a backup, then two tables created in the window, archived, and another database
    db, victim = make_log_database("skip"), make_log_database("v")
    run(log_server, f"CREATE TABLE {q(victim)}.vt (a INT)")
    store = LocalStorage(tmp_path / "store")
    backup_database(log_server, db, store, source="src")
    # (named after the database: the archive holds every test's events since the server started)
    logged, logged_too = (f"CREATE TABLE {c * 12}_{db[-6:]} (a INT)".encode() for c in "zy")
    run(log_server, logged.decode(), logged_too.decode(), database=db)
    to_time = next_second()
    run(log_server, f"CREATE TABLE {q(db)}.later (a INT)")  # (the archive reaches past the time)
    archive_binlog(log_server, store, "src")
    # and the first statement replaced by one a dump's check accepts but skips (a USE of another
    # database, replication bookkeeping), the second by a DROP of an unqualified table
    first = f"USE {q(victim)}" if forged == "USE" else "SET @@SESSION.sql_log_bin = 0"
    _forge(store, "src", logged, first.encode().ljust(len(logged)))
    _forge(store, "src", logged_too, b"DROP TABLE vt".ljust(len(logged_too)))
    target = db + "_t"
    # When the database is restored to a time after them
    with pytest.raises(OperationError) as refused:
        restore_to_time(log_server, [store], db, to_time, target_database=target)
    # Then the first is refused in one line before it ran: the other database keeps its table, and
    # nothing was published
    assert "refused" in str(refused.value)
    assert first in str(refused.value)
    assert "\n" not in str(refused.value)
    assert _value(
        log_server, f"SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{victim}'"
    )
    assert not schema_exists(log_server, target)


def test_a_forged_statement_logged_under_latin1_is_read_with_its_spaces_and_refused(
    log_server, make_log_database, tmp_path
):
    # Given a backup, then a table created in the window by a latin1 session, archived, and another
    # database
    db, victim = make_log_database("l1"), make_log_database("v")
    run(log_server, f"CREATE TABLE {q(victim)}.vt (a INT)", f"INSERT INTO {q(victim)}.vt VALUES (7)")
    store = LocalStorage(tmp_path / "store")
    backup_database(log_server, db, store, source="src")
    logged = f"CREATE TABLE {'z' * 12}_{db[-6:]} (a INT) ENGINE=InnoDB".encode()
    run(log_server, "SET NAMES latin1", logged.decode(), database=db)
    to_time = next_second()
    run(log_server, f"CREATE TABLE {q(db)}.later (a INT)")  # (the archive reaches past the time)
    archive_binlog(log_server, store, "src")
    # and that statement replaced by one copying the other database's rows, its spaces 0xA0 (a space
    # to the latin1 session it runs in, so `SELECT a FROM other.vt`)
    forged = f"CREATE TABLE c SELECT\xa0a\xa0FROM\xa0{victim}.vt".encode("latin1")
    _forge(store, "src", logged, forged.ljust(len(logged)))
    target = db + "_t"
    # When the database is restored to a time after it
    with pytest.raises(OperationError) as refused:
        restore_to_time(log_server, [store], db, to_time, target_database=target)
    # Then it is refused in one line before it ran, and nothing was published
    assert "refused" in str(refused.value)
    assert "\n" not in str(refused.value)
    assert not schema_exists(log_server, target)
