"""`cloudbackup restore` and `cloudbackup verify` as operators run them: exit codes, one-line errors,
and a restore killed with SIGKILL that leaves the target untouched and its staging cleaned up later."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from cloudbackup.backup import backup_database
from tests.fixtures.compare import assert_databases_equal, assert_snapshots_equal, snapshot
from tests.fixtures.mariadb import TEST_DB_URL, admin_connect, db_url, flavour, run_sql
from tests.fixtures.processes import stop
from tests.integration.restore_helpers import back_up, change_live_data, make_shop, schemas_like

pytestmark = pytest.mark.e2e


def cli(*args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, "-m", "cloudbackup.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        check=check,
    )


@pytest.fixture
def shop_backup(db_settings, make_database, tmp_path):
    source = make_database("rc")
    make_shop(db_settings, source)
    entry = back_up(db_settings, source, tmp_path)
    return source, entry, str(tmp_path / "data")


def test_restore_and_verify_succeed_with_exit_0(db_settings, shop_backup):
    source, entry, data = shop_backup
    target = source + "_copy"
    try:
        done = cli(
            "restore",
            "--db-url",
            db_url(db_settings),
            "--backup",
            "latest",
            "--database",
            source,
            "--target-database",
            target,
            "--data",
            data,
            "--json",
        )
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout)
        assert summary["target_database"] == target
        assert summary["backup_id"] == entry.id
        assert summary["rows"] == sum(t.rows for t in entry.manifest.tables)
        assert done.stderr == ""  # not a terminal: no progress line
        verified = cli("verify", "--backup", entry.id, "--data", data)
        assert verified.returncode == 0
        assert verified.stdout.startswith(f"OK {entry.id}")
    finally:
        with admin_connect(db_settings) as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{target}`")


def test_usage_errors_exit_2_with_one_line(db_settings, shop_backup):
    source, entry, data = shop_backup
    restore = ["restore", "--db-url", db_url(db_settings)]
    base = [*restore, "--backup", entry.id, "--data", data]
    for args, message in [
        ([*base, "--target-database", source + "_x", "--table", "nope"], "--table nope"),
        ([*base, "--target-database", source], "use --in-place"),
        (base, "--target-database NEW"),
        ([*restore, "--backup", "/no/such/file.sql", "--target-database", "x"], "no such file"),
        ([*restore, "--backup", data, "--target-database", "x"], f"{data}: a directory, not a dump file"),
    ]:
        done = cli(*args)
        assert done.returncode == 2, (args, done.stderr)
        assert message in done.stderr
        assert done.stderr.count("\n") == 1


def test_verify_of_a_damaged_backup_prints_failed_and_exits_1(shop_backup):
    _source, entry, data = shop_backup
    path = entry.store.root / entry.manifest.data.key
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    path.write_bytes(bytes(blob))
    done = cli("verify", "--backup", entry.id, "--data", data)
    assert done.returncode == 1
    assert done.stdout.startswith(f"FAILED {entry.id}")


def test_a_restore_killed_midway_leaves_the_target_and_the_next_one_cleans_up(
    db_settings, make_database, tmp_path
):
    # Given a backup with a bigger table, and a live database that moved on since
    source, in_place, before = moved_on_since_backup(db_settings, make_database, tmp_path)
    # When an in-place restore is killed (SIGKILL) while it loads the big table
    proc = subprocess.Popen(
        [sys.executable, "-m", "cloudbackup.cli.main", *in_place],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    staging = wait_for_rows_in_staging(db_settings, source, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # Then the target is exactly as it was; the staging database is left behind, recognisably named
    assert_snapshots_equal(before, snapshot(db_settings, source))
    assert staging in schemas_like(db_settings, source)
    # And the next restore drops it and completes
    done = cli(*in_place, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["stale_staging_dropped"] == [staging]
    assert schemas_like(db_settings, source) == sorted([source, result["previous_tables_kept_in"]])


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_restore_stopped_midway_exits_130_leaving_the_target_and_no_staging(
    db_settings, make_database, tmp_path, signum
):
    # Given a backup with a bigger table, and a live database that moved on since
    source, in_place, before = moved_on_since_backup(db_settings, make_database, tmp_path)
    # When an in-place restore is stopped (Ctrl-C, or a stop from systemd) while it loads the big table
    proc = subprocess.Popen(
        [sys.executable, "-m", "cloudbackup.cli.main", *in_place],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for_rows_in_staging(db_settings, source, proc)
    seconds, _, err = stop(proc, signum, timeout=120)
    # Then it stops within seconds, saying so, with the interrupted exit code
    assert seconds < 30
    assert proc.returncode == 130, err
    assert "stopping…" in err
    # And the target is exactly as it was, and its staging database is gone with the rest
    assert_snapshots_equal(before, snapshot(db_settings, source))
    assert schemas_like(db_settings, source) == [source]


def moved_on_since_backup(db_settings, make_database, tmp_path) -> tuple[str, list[str], object]:
    """A database with a bigger table, backed up and changed since: its name, the arguments of an
    in-place restore of that backup, and the database's snapshot now."""
    source = make_database("rk")
    make_shop(db_settings, source, rows=300_000)
    entry = back_up(db_settings, source, tmp_path)
    change_live_data(db_settings, source)
    in_place = ["restore", "--db-url", db_url(db_settings), "--backup", entry.id, "--in-place", "--yes"]
    return source, [*in_place, "--data", str(tmp_path / "data")], snapshot(db_settings, source)


def wait_for_rows_in_staging(settings, source: str, proc: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + 120
    with admin_connect(settings) as conn, conn.cursor() as cur:
        if flavour(settings) == "mysql":  # its table_rows are otherwise cached for a day
            cur.execute("SET SESSION information_schema_stats_expiry = 0")
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            cur.execute(
                "SELECT table_schema FROM information_schema.tables WHERE table_schema LIKE %s "
                "AND table_name = 'child' AND table_rows > 1000",
                (source + "\\_\\_cbrestore\\_%",),
            )
            row = cur.fetchone()
            if row:
                return str(row[0])
            time.sleep(0.05)
    raise AssertionError("the restore never started loading the big table")


def test_restore_of_a_mysqldump_file_through_the_cli(db_settings, make_database, tmp_path):
    # Given a gzip'ed mysqldump file of a small database
    source = make_database("rg")
    make_shop(db_settings, source)
    dump = subprocess.run(
        ["mysqldump", f"--host={db_settings.host}", f"--port={db_settings.port}",
         f"--user={db_settings.user}", "--routines", "--events", source],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    path = tmp_path / "shop.sql.gz"
    path.write_bytes(gzip.compress(dump))
    target = make_database("rh")
    # When it is restored with the CLI, the target database named in the URL
    done = cli("restore", "--db-url", db_url(db_settings, target), "--backup", str(path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"restored the file shop.sql.gz into {target}:"), done.stdout
    # Then its tables equal the source's (parent's NEXTVAL default names the source database in a
    # mysqldump file, for the stock client too: that one is left out)
    assert_databases_equal(db_settings, source, target, tables=["child", "audit"])


def test_a_dump_file_without_a_statement_is_refused_and_a_named_database_is_said(
    db_settings, make_database, tmp_path
):
    # Given an empty file, and one holding only comments
    empty, comments = tmp_path / "empty.sql", tmp_path / "comments.sql.gz"
    empty.write_bytes(b"")
    comments.write_bytes(gzip.compress(b"-- MariaDB dump 10.19\n/* nothing else */\n\n"))
    target = make_database("re") + "_new"
    for path in (empty, comments):
        # When either is restored into a new database
        done = cli(
            "restore", "--db-url", db_url(db_settings), "--backup", str(path), "--target-database", target
        )
        # Then it is refused in one line, and no database was made
        assert done.returncode == 2, done.stdout
        assert "holds no SQL statement" in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
        assert schemas_like(db_settings, target) == []
    # Given a dump that names its database (mysqldump --databases)
    source = make_database("rn")
    make_shop(db_settings, source)
    dump = subprocess.run(
        ["mysqldump", f"--host={db_settings.host}", f"--port={db_settings.port}",
         f"--user={db_settings.user}", "--databases", source],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    (tmp_path / "named.sql").write_bytes(dump)
    # When it is restored, the line names the file first, then the database it holds
    done = cli(
        "restore", "--db-url", db_url(db_settings), "--backup", str(tmp_path / "named.sql"),
        "--target-database", target,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"restored the file named.sql (database {source}) into {target}:"), (
        done.stdout
    )


def test_a_dump_file_with_flags_that_pick_a_backup_is_refused_in_one_line(
    db_settings, make_database, tmp_path
):
    # Given a mysqldump file of a small database
    source = make_database("rd")
    make_shop(db_settings, source)
    dump = subprocess.run(
        ["mysqldump", f"--host={db_settings.host}", f"--port={db_settings.port}",
         f"--user={db_settings.user}", source],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    path = tmp_path / "shop.sql"
    path.write_bytes(dump)
    target = source + "_new"
    restore = ["restore", "--db-url", db_url(db_settings), "--backup", str(path), "--target-database", target]
    for flag in ("--database", "--source"):
        # When it is restored with a flag that picks a backup from a store (which a file is not)
        done = cli(*restore, flag, source)
        # Then it is refused in one line naming the flag, and no database was made
        assert done.returncode == 2, done.stdout
        assert done.stderr.count("\n") == 1, done.stderr
        assert f"{flag} {source}" in done.stderr
        assert schemas_like(db_settings, target) == []


def test_a_pipe_or_device_as_dump_file_is_said_to_be_one_not_to_be_missing(tmp_path):
    # Given a named pipe (as `--backup <(zcat shop.sql.gz)` gives), and a device
    fifo = tmp_path / "shop.sql"
    os.mkfifo(fifo)
    for path in (str(fifo), os.devnull):
        # When either is restored as a dump file
        done = cli("restore", "--db-url", TEST_DB_URL, "--backup", path, "--target-database", "x")
        # Then one line says it is not a regular file (it exists: "no such file" was wrong)
        assert done.returncode == 2, done.stdout
        assert done.stderr == (
            f"cloudbackup: --backup {path}: not a regular file (a pipe or a device); a restore reads "
            "the dump twice, checked and then loaded: give the file itself\n"
        )


def test_a_dump_file_in_place_without_a_database_says_where_to_name_it(tmp_path):
    # Given a dump file, and a --db-url naming no database
    path = tmp_path / "shop.sql"
    path.write_text("CREATE TABLE t (id INT PRIMARY KEY);\n")
    # When it is restored --in-place (which --target-database may not go with)
    done = cli("restore", "--db-url", TEST_DB_URL, "--backup", str(path), "--in-place", "--yes")
    # Then the one line names the way that works: the database in --db-url, not --target-database
    assert done.returncode == 2, done.stdout
    assert done.stderr == (
        f"cloudbackup: --in-place replaces the database --db-url names, and it names none: "
        f"add it (mysql://…/NAME) to restore the file {path} in place\n"
    )


def test_latest_of_a_database_that_several_sources_back_up_needs_source(db_settings, shop_backup):
    # Given a store holding backups of one database name from two servers: this one's ("test"), and
    # a newer one from another server (staging's `shop` beside production's, in one bucket)
    source, entry, data = shop_backup
    run_sql(db_settings, source, "CREATE TABLE staging_only (id int primary key)")
    other = backup_database(db_settings, source, entry.store, source="staging")
    target = source + "_copy"
    store = ["--data", data]
    # When the operator asks for the latest backup of the database without saying whose
    restore = ["restore", "--db-url", db_url(db_settings), "--target-database", target]
    for command in (
        [*restore, "--backup", "latest"],
        [*restore, "--to-time", "2099-01-01T00:00:00Z"],
        ["verify", "--backup", "latest"],
        ["show", "--backup", "latest"],
    ):
        done = cli(*command, "--database", source, *store)
        # Then it is refused in one line naming both sources, and nothing is created
        assert done.returncode == 2, done.stdout
        assert done.stderr.count("\n") == 1, done.stderr
        assert "--source" in done.stderr
        assert "'test'" in done.stderr
        assert "'staging'" in done.stderr
    assert schemas_like(db_settings, target) == []
    # and with --source the one named is restored, not the newest of the two
    try:
        done = cli(
            "restore", "--db-url", db_url(db_settings), "--target-database", target, "--backup", "latest",
            "--database", source, "--source", "test", "--json", *store,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["backup_id"] == entry.id != other.id
    finally:
        run_sql(db_settings, source, f"DROP DATABASE IF EXISTS `{target}`")


@pytest.mark.parametrize("mark", ["__cbrestore_", "__cbdrill_"])
def test_a_target_named_as_a_working_copy_is_refused_before_a_later_restore_drops_it(
    db_settings, shop_backup, mark
):
    # Given a backup of a database, and another database whose staging and scratch copies are named
    # `{db}__cbrestore_{8 hex}` and `{db}__cbdrill_{8 hex}` (a later restore or drill of it drops any
    # such database whose owner is gone, as left behind by a killed run)
    source, _entry, data = shop_backup
    target = f"{source}_app{mark}0a1b2c3d"
    # When the operator restores into a new database so named
    done = cli(
        "restore", "--db-url", db_url(db_settings), "--backup", "latest", "--database", source,
        "--target-database", target, "--data", data,
    )  # fmt: skip
    try:
        # Then it is refused in one line (exit 2) and nothing is created, instead of a restored copy
        # that the next restore or drill of `{source}_app` would drop as its own leftover
        assert done.returncode == 2, done.stdout
        assert done.stderr.count("\n") == 1, done.stderr
        assert "choose another name" in done.stderr
        assert schemas_like(db_settings, target) == []
    finally:
        run_sql(db_settings, source, f"DROP DATABASE IF EXISTS `{target}`")
