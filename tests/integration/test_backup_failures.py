"""A backup that fails midway leaves nothing: no manifest, no data object, nothing listed.

Failures are injected at known points through the progress hooks: after the snapshot is taken
(`begin`) or after the first rows are written (`add`).
"""

from __future__ import annotations

import subprocess
import time

import pytest

from cloudbackup import backup as backup_module
from cloudbackup.backup import BackupCancelled, backup_database, check_exclusions, resolve_databases
from cloudbackup.catalog import list_backups
from cloudbackup.errors import CloudBackupError, OperationError
from cloudbackup.storage.local import LocalStorage
from tests.fixtures.mariadb import admin_connect
from tests.fixtures.numbers import numbers
from tests.integration.backup_helpers import Hook, assert_nothing_kept

pytestmark = pytest.mark.integration


def dump_connection_id(db_settings, database: str) -> int:
    """The backup's first connection, the one that reads every table but a big one: on MySQL the
    server may count a_big over the split size, and the backup then opens others after it."""
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT MIN(ID) FROM information_schema.PROCESSLIST WHERE DB = %s", (database,))
        (row,) = cur.fetchall()
    return int(row[0])


def test_the_dump_connection_killed_midway(db_settings, busy_db, tmp_path):
    # Given a backup under way, whose connection another session kills after the first rows
    store = LocalStorage(tmp_path)

    def kill() -> None:
        with admin_connect(db_settings) as conn, conn.cursor() as cur:
            cur.execute(f"KILL CONNECTION {dump_connection_id(db_settings, busy_db)}")

    # When the backup goes on
    with pytest.raises(OperationError, match="lost the connection") as failure:
        backup_database(db_settings, busy_db, store, source="t", progress=Hook(on_rows=kill))
    # Then it fails with one line and keeps nothing
    assert "\n" not in str(failure.value)
    assert_nothing_kept(store, tmp_path)


@pytest.mark.parametrize("sized", [False, True], ids=["while-sizing", "once-sized"])
def test_the_dump_connection_lost_before_the_snapshot_opens(
    db_settings, busy_db, tmp_path, monkeypatch, sized
):
    # Given a backup reading big tables on two connections, whose first connection is killed (the
    # server restarting, say) while it sizes the tables, or right after
    real_big_tables = backup_module.big_tables

    def kill() -> None:
        with admin_connect(db_settings) as conn, conn.cursor() as admin:
            admin.execute(f"KILL CONNECTION {dump_connection_id(db_settings, busy_db)}")

    def killed_around(cur, database, min_bytes):
        if not sized:
            kill()
        found = real_big_tables(cur, database, min_bytes)
        if sized:
            kill()
        return found

    monkeypatch.setattr(backup_module, "big_tables", killed_around)
    store = LocalStorage(tmp_path)
    # When the backup goes on
    with pytest.raises(OperationError) as failure:
        backup_database(db_settings, busy_db, store, source="t", jobs=2, split_min_bytes=1)
    # Then it says in one line that the connection was lost, and keeps nothing
    assert "lost the connection" in str(failure.value)
    assert "\n" not in str(failure.value)
    assert_nothing_kept(store, tmp_path)


def failed_by_ddl_meanwhile(db_settings, database, tmp_path, *ddl: str, when: str = "on_begin", match: str):
    """Back up `database` while another session runs `ddl` (at the hook `when`): the backup fails with
    an OperationError matching `match` and keeps nothing; returns its message."""
    store = LocalStorage(tmp_path)

    def run_ddl() -> None:
        with admin_connect(db_settings, database) as conn, conn.cursor() as cur:
            cur.execute("SET SESSION lock_wait_timeout = 10")
            for statement in ddl:
                cur.execute(statement)

    with pytest.raises(OperationError, match=match) as failure:
        backup_database(db_settings, database, store, source="t", progress=Hook(**{when: run_ddl}))
    assert_nothing_kept(store, tmp_path)
    return str(failure.value)


def test_concurrent_ddl_on_a_table_not_yet_dumped(db_settings, busy_db, tmp_path):
    # Given a backup whose snapshot is open, and a table rebuilt by another session before it is read;
    # When the backup reaches that table; Then it fails (error 1412), says to retry, and keeps nothing
    said = failed_by_ddl_meanwhile(
        db_settings, busy_db, tmp_path, "ALTER TABLE z_small FORCE", match="changed definition"
    )
    assert "run the backup again" in said


def test_a_table_dropped_before_it_is_read(db_settings, busy_db, tmp_path):
    failed_by_ddl_meanwhile(db_settings, busy_db, tmp_path, "DROP TABLE z_small", match="was dropped")


def test_two_tables_swapped_by_rename_before_they_are_read(db_settings, busy_db, tmp_path):
    # Given z_small and a twin of the same columns but other rows, made a second later (MySQL keeps a
    # table's creation time to the second)
    time.sleep(1.1)
    with admin_connect(db_settings, busy_db) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE z_twin (id INT PRIMARY KEY) ENGINE=InnoDB")
        cur.execute("INSERT INTO z_twin VALUES (-1)")
    # When another session swaps their names once the backup's snapshot is open (the snapshot would
    # give each name the other table's rows)
    swap = "RENAME TABLE z_small TO z_swap, z_twin TO z_small, z_swap TO z_twin"
    # Then the backup fails as for any DDL meanwhile, says to retry, and keeps nothing
    said = failed_by_ddl_meanwhile(db_settings, busy_db, tmp_path, swap, match="changed definition")
    assert "run the backup again" in said


def test_should_stop_cancels_and_keeps_nothing(db_settings, busy_db, tmp_path):
    store = LocalStorage(tmp_path)
    hook = Hook()
    with pytest.raises(BackupCancelled):
        backup_database(
            db_settings, busy_db, store, source="t", progress=hook, should_stop=lambda: hook.rows > 0
        )
    assert_nothing_kept(store, tmp_path)


def test_rows_written_after_the_snapshot_are_not_in_the_backup(db_settings, busy_db, tmp_path):
    # Given rows added and deleted by another session once the snapshot is open
    store = LocalStorage(tmp_path)

    def write() -> None:
        with admin_connect(db_settings, busy_db) as conn, conn.cursor() as cur:
            cur.execute(f"INSERT INTO z_small SELECT seq FROM {numbers(199, 100)}")
            cur.execute("DELETE FROM a_big WHERE id <= 1000")

    # When the backup completes
    manifest = backup_database(db_settings, busy_db, store, source="t", progress=Hook(on_begin=write))
    # Then it holds the tables as of the snapshot
    assert {t.name: t.rows for t in manifest.tables} == {"a_big": 300000, "z_small": 10}
    assert [e.id for e in list_backups([store])] == [manifest.id]


@pytest.fixture
def tiny_disk(tmp_path):
    """A 3 MiB tmpfs, when this machine lets us mount one."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True, check=False
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


def test_a_full_disk_fails_and_keeps_nothing(db_settings, busy_db, tiny_disk):
    # Given a store on a disk far smaller than the backup (uncompressed: ~40 MB)
    store = LocalStorage(tiny_disk)
    # When the backup runs
    with pytest.raises(OperationError, match="No space left on device"):
        backup_database(db_settings, busy_db, store, source="t", compression="none")
    # Then it fails with the reason, and the partial file is gone
    assert_nothing_kept(store, tiny_disk)


def test_a_view_replaced_while_the_tables_are_dumped(db_settings, busy_db, tmp_path):
    # Given a view of z_small, replaced by another session once the snapshot is open with one reading
    # a table the snapshot does not hold
    with admin_connect(db_settings, busy_db) as conn, conn.cursor() as cur:
        cur.execute("CREATE VIEW v AS SELECT id FROM z_small")
    replace = ("CREATE TABLE z_new (a int)", "CREATE OR REPLACE VIEW v AS SELECT a FROM z_new")
    # When the backup goes on (a restore of what it read would fail: z_new is not in it)
    said = failed_by_ddl_meanwhile(db_settings, busy_db, tmp_path, *replace, match="changed definition")
    # Then it fails in one line, says to retry, and keeps nothing
    assert "run the backup again" in said
    assert "\n" not in said


def test_a_procedure_dropped_before_it_is_read(db_settings, busy_db, tmp_path):
    # Given a procedure, dropped by another session once the snapshot is open
    with admin_connect(db_settings, busy_db) as conn, conn.cursor() as cur:
        cur.execute("CREATE PROCEDURE p() SELECT 1")
    # When the backup reaches the routines
    said = failed_by_ddl_meanwhile(db_settings, busy_db, tmp_path, "DROP PROCEDURE p", match="was dropped")
    # Then it says the database changed under it, to retry, and keeps nothing
    assert "run the backup again" in said


def test_a_column_added_before_the_table_definition_is_read(db_settings, busy_db, tmp_path):
    # Given a backup whose snapshot is open, and a column added to z_small by another session before
    # its definition is read (in place on MariaDB: the snapshot still reads the rows without it)
    add = "ALTER TABLE z_small ADD COLUMN w int DEFAULT 5"
    # When the backup goes on (the new definition with the snapshot's rows is a table that never was)
    said = failed_by_ddl_meanwhile(db_settings, busy_db, tmp_path, add, match="changed definition")
    # Then it fails, says to retry, and keeps nothing
    assert "run the backup again" in said


def test_a_column_renamed_after_the_table_definition_is_read(db_settings, busy_db, tmp_path):
    # Given a backup reading a_big, and z_small's column renamed by another session meanwhile
    rename = "ALTER TABLE z_small RENAME COLUMN id TO id2"
    # When the backup reaches z_small (its rows are read by the column names listed at the start)
    said = failed_by_ddl_meanwhile(
        db_settings, busy_db, tmp_path, rename, when="on_rows", match="changed definition"
    )
    # Then it says the table changed under it, to retry, and keeps nothing
    assert "run the backup again" in said


@pytest.mark.parametrize("step", ["databases", "exclusions"])
def test_a_connection_dropped_while_the_databases_are_looked_up_fails_in_one_line(
    db_settings, busy_db, monkeypatch, step
):
    # Given the server dropping the connection the backup opens to list the databases or their tables
    real_connect = backup_module.connect

    def dropped(*args, **kwargs):
        conn = real_connect(*args, **kwargs)
        with admin_connect(db_settings) as admin, admin.cursor() as cur:
            cur.execute(f"KILL {conn.thread_id()}")
        return conn

    monkeypatch.setattr(backup_module, "connect", dropped)
    # When the databases to back up, or the tables to leave out, are looked up
    look_up = {
        "databases": lambda: resolve_databases(db_settings, [busy_db]),
        "exclusions": lambda: check_exclusions(db_settings, [busy_db], ["z_small"]),
    }[step]
    with pytest.raises(CloudBackupError) as failure:
        look_up()
    # Then it fails in one line naming the server and the lost connection
    assert "\n" not in str(failure.value)
    assert "Lost connection" in str(failure.value) or "gone away" in str(failure.value), str(failure.value)
