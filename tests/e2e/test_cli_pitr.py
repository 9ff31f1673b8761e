"""`cloudbackup binlog archive|status` and `restore --to-time` as operators run them: exit codes, one line."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest

from cloudbackup.storage.local import LocalStorage
from tests.e2e.test_cli_restore import cli
from tests.fixtures.mariadb import TEST_DB_URL, admin_connect, db_url
from tests.integration.pitr_helpers import (
    archived_positions,
    create_shop,
    first_changes,
    next_second,
    run,
    schema_exists,
    server_positions,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def archived(log_server, make_log_database, tmp_path):
    """A database backed up, changed, its binlog archived: (database, data dir, a time after the changes)."""
    db, other = make_log_database("cli"), make_log_database("cli_other")
    create_shop(log_server, db, other)
    data = str(tmp_path / "data")
    url = db_url(log_server)
    cli("backup", "--db-url", url, "--database", db, "--source", "src", "--data", data, check=True)
    first_changes(log_server, db, other)
    to_time = next_second()
    run(log_server, f"INSERT INTO `{db}`.item (id, name) VALUES (1000, 'after T')")
    done = cli("binlog", "archive", "--db-url", url, "--source", "src", "--data", data, "--json", check=True)
    assert json.loads(done.stdout)["events"] > 0
    return db, data, to_time


def test_restore_to_time_from_the_command_line(log_server, archived, make_log_database):
    db, data, to_time = archived
    target = make_log_database("cli_target")
    # When the database is restored to a time from the command line
    done = cli(
        "restore",
        "--db-url",
        db_url(log_server),
        "--database",
        db,
        "--to-time",
        to_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "--target-database",
        target,
        "--data",
        data,
    )
    # Then it succeeds with one summary line, and holds the changes before the time, not the row after it
    assert done.returncode == 0, done.stderr
    assert "transactions" in done.stdout
    with admin_connect(log_server) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT COUNT(*), SUM(id = 1000), SUM(name LIKE '%v2') FROM `{target}`.item")
        count, after, updated = cur.fetchone()
    assert (count, after, updated) == (34, 0, 10)
    # and binlog status names the window of the database
    status = cli("binlog", "status", "--json", "--data", data)
    (window,) = [w for w in json.loads(status.stdout) if w["database"] == db]
    assert window["recoverable_from"] is not None
    assert window["gaps"] == []


def test_binlog_archive_and_status_json_carry_their_format(log_server, archived):
    # Given a database backed up and its binlog archived
    _db, data, _to_time = archived
    # When a script reads `binlog archive --json` (nothing new) and `binlog status --json`
    url = db_url(log_server)
    done = cli("binlog", "archive", "--db-url", url, "--source", "src", "--data", data, "--json")
    status = cli("binlog", "status", "--json", "--data", data)
    # Then each object says its format, as README promises for every --json output
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["format"] == 1
    windows = json.loads(status.stdout)
    assert windows
    assert all(w["format"] == 1 for w in windows)


def test_a_time_before_every_backup_is_a_usage_error(log_server, archived):
    db, data, _ = archived

    def restore_in_2001(database: str) -> subprocess.CompletedProcess[str]:
        return cli(
            "restore", "--db-url", db_url(log_server), "--database", database,
            "--to-time", "2001-01-01T00:00:00Z", "--target-database", db + "_x", "--data", data,
        )  # fmt: skip

    done = restore_in_2001(db)
    assert done.returncode == 2
    assert "is before every backup" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    # and a database with no backup at all is said to have none, not that the time is too early
    done = restore_in_2001("no_such_db")
    assert done.returncode == 2
    assert "no complete backup of database 'no_such_db'" in done.stderr
    assert "before every backup" not in done.stderr


def test_a_time_after_the_archive_fails_naming_the_window_and_creates_nothing(log_server, archived):
    db, data, _ = archived
    later = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    done = cli(
        "restore",
        "--db-url",
        db_url(log_server),
        "--database",
        db,
        "--to-time",
        later,
        "--target-database",
        db + "_x",
        "--data",
        data,
    )
    assert done.returncode == 1
    assert "is after the archived binlog" in done.stderr
    assert "archived from " in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not schema_exists(log_server, db + "_x")


def test_a_dry_run_to_a_time_verifies_and_says_what_it_would_do_changing_nothing(log_server, archived):
    # Given a backed-up database whose binlog is archived past a time
    db, data, to_time = archived
    target = db + "_dry"
    with admin_connect(log_server) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT COUNT(*) FROM `{db}`.item")
        (rows_before,) = cur.fetchone()

    def dry_run(*target_flags: str) -> subprocess.CompletedProcess[str]:
        return cli(
            "restore", "--db-url", db_url(log_server), "--database", db, "--data", data,
            "--to-time", to_time.strftime("%Y-%m-%dT%H:%M:%SZ"), *target_flags, "--dry-run",
        )  # fmt: skip

    # When the operator asks first what a restore to that time would do, into a new database and in place
    new, in_place, as_json = (
        dry_run("--target-database", target),
        dry_run("--in-place"),
        dry_run("--target-database", target, "--json"),
    )
    # Then each says it in a few lines, naming the backup, the target and the replay's start
    assert new.returncode == 0, new.stderr
    assert new.stdout.startswith("dry run: backup ")
    assert "nothing was changed" in new.stdout
    assert f"would create database {target}" in new.stdout
    assert "then would replay the archived binlog from " in new.stdout
    assert in_place.returncode == 0, in_place.stderr
    assert f"would replace database {db} " in in_place.stdout
    assert as_json.returncode == 0, as_json.stderr
    summary = json.loads(as_json.stdout)
    assert summary["dry_run"] is True
    assert summary["binlog_from"]
    assert summary["binlog_segments"] >= 1
    assert summary["location"].endswith(".sql.zst")
    # and nothing changed: no target, no kept copy, the database as it was
    assert not schema_exists(log_server, target)
    with admin_connect(log_server) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name LIKE %s", (db + "_before%",)
        )
        assert cur.fetchone()[0] == 0
        cur.execute(f"SELECT COUNT(*) FROM `{db}`.item")
        assert cur.fetchone()[0] == rows_before


@pytest.mark.parametrize("text", ["yesterday", "2026-12-03T14:02:00"])
def test_a_time_without_zone_or_not_iso_is_a_usage_error(text, tmp_path):
    done = cli(
        "restore",
        "--db-url",
        TEST_DB_URL,
        "--database",
        "x",
        "--to-time",
        text,
        "--target-database",
        "y",
        "--data",
        str(tmp_path),
    )
    assert done.returncode == 2
    assert "--to-time" in done.stderr


def test_binlog_status_of_a_mistyped_data_directory_says_it_is_not_there(tmp_path):
    # Given a --data directory that does not exist (a typo), one that is empty, and a file
    typo, empty, a_file = tmp_path / "backpus", tmp_path / "empty", tmp_path / "backups.tar"
    empty.mkdir()
    a_file.write_bytes(b"")
    for data, absence in ((typo, " (no such directory)"), (empty, ""), (a_file, " (not a directory)")):
        # When the operator asks for the recoverable window there
        done = cli("binlog", "status", "--data", str(data))
        # Then the line says where it looked, and why nothing is there when that is plain
        assert done.returncode == 0, done.stderr
        assert done.stdout == f"no archived binary log in local store {data}{absence}\n"
    assert not typo.exists()


def test_archiving_with_a_database_in_the_url_is_refused_in_one_line(tmp_path):
    # Given a --db-url naming a database: the archive holds every database's events all the same
    url = TEST_DB_URL.rstrip("/") + "/somedb"
    # When the operator archives the binary log with it
    done = cli("binlog", "archive", "--db-url", url, "--data", str(tmp_path / "data"))
    # Then it is refused (exit 2) in one line saying what the archive covers, and nothing is stored
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "every database" in done.stderr
    assert "drop the database from --db-url" in done.stderr
    assert not (tmp_path / "data").exists()


def test_archiving_a_server_without_binary_log_fails_in_one_line(tmp_path):
    done = cli("binlog", "archive", "--db-url", TEST_DB_URL, "--data", str(tmp_path))
    assert done.returncode == 1
    assert "binary log is off" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_follower_stopped_with_sigterm_keeps_what_it_read_and_exits_0(
    log_server, make_log_database, tmp_path
):
    # Given `binlog archive --follow` running
    db, other = make_log_database("cli_follow"), make_log_database("cli_follow_o")
    data = str(tmp_path / "data")
    args = [
        "binlog",
        "archive",
        "--db-url",
        db_url(log_server),
        "--source",
        "src",
        "--data",
        data,
        "--follow",
    ]
    # (caught up first: the server's log may hold much from earlier tests, which a fresh archive reads
    # from its oldest file; the follower then resumes at the end)
    caught_up = subprocess.run(
        [sys.executable, "-m", "cloudbackup.cli.main", *args[:-1]], capture_output=True, check=False
    )
    assert caught_up.returncode == 0, caught_up.stderr
    follower = subprocess.Popen(
        [sys.executable, "-m", "cloudbackup.cli.main", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        time.sleep(2)
        # When events arrive and the follower is stopped before its next periodic commit
        create_shop(log_server, db, other)
        time.sleep(1.5)
        follower.send_signal(signal.SIGTERM)
        out, err = follower.communicate(timeout=30)
    finally:
        if follower.poll() is None:
            follower.kill()
    # Then it exits 0 after committing them
    assert follower.returncode == 0, err
    with admin_connect(log_server) as conn, conn.cursor() as cur:
        cur.execute("SHOW BINARY LOGS")
        newest = [str(row[0]) for row in cur.fetchall()][-1]
    archived = archived_positions(LocalStorage(tmp_path / "data"), "src")[newest]
    assert archived == server_positions(log_server, newest)[-len(archived) :]  # up to the file's end
    assert b"archived" in out


def test_an_archive_run_that_meets_a_gap_exits_1_after_archiving_what_is_there(log_server, archived):
    # Given an archive, then a binlog file the server purged before it was archived
    db, data, _ = archived
    run(log_server, "FLUSH BINARY LOGS", f"INSERT INTO `{db}`.item (id, name) VALUES (1001, 'lost')")
    run(log_server, "FLUSH BINARY LOGS", f"INSERT INTO `{db}`.item (id, name) VALUES (1002, 'kept')")
    with admin_connect(log_server) as conn, conn.cursor() as cur:
        cur.execute("SHOW BINARY LOGS")
        newest = [str(row[0]) for row in cur.fetchall()][-1]
        cur.execute(f"PURGE BINARY LOGS TO '{newest}'")
    # When the archive runs (from cron)
    url = db_url(log_server)
    done = cli("binlog", "archive", "--db-url", url, "--source", "src", "--data", data)
    # Then it says so in one line, archives what is there, and exits 1 so the scheduler alerts
    assert done.returncode == 1, done.stderr
    (said,) = done.stderr.splitlines()
    assert said.startswith("cloudbackup: binlog gap on src: ")
    assert done.stdout.startswith("archived ")
    # and the next run, with nothing new lost, exits 0
    assert cli("binlog", "archive", "--db-url", url, "--source", "src", "--data", data).returncode == 0
