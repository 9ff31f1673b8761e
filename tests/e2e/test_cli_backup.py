"""`cloudbackup backup` through the real command: output, bad input, progress, a killed process."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cloudbackup.backup import SYSTEM_DATABASES, resolve_databases
from cloudbackup.errors import UsageError
from tests.fixtures.mariadb import admin_connect, db_url, run_sql
from tests.fixtures.numbers import numbers
from tests.fixtures.processes import communicate_or_kill

pytestmark = pytest.mark.e2e

CLI = [sys.executable, "-m", "cloudbackup.cli.main"]


def cloudbackup(*args: str, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300, check=False, **kwargs)


@pytest.fixture
def small_db(db_settings, make_database):
    name = make_database("cli")
    with admin_connect(db_settings, name) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(20))")
        cur.execute(f"INSERT INTO t SELECT seq, CONCAT('row ', seq) FROM {numbers(500)}")
    return name


def listed(data: Path) -> list[dict]:
    result = cloudbackup("list", "--json", "--data", str(data))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_backup_prints_one_line_per_backup_and_list_shows_it(db_settings, small_db, tmp_path):
    # When a database named in the URL is backed up
    result = cloudbackup("backup", "--db-url", db_url(db_settings, small_db), "--data", str(tmp_path))
    # Then one line names the backup: id, database, size, location; stderr stays quiet in a pipe
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    (line,) = result.stdout.splitlines()
    backup_id, database, size, unit, rows, _, seconds, _, _rate, rate_unit, location = line.split()
    assert database == small_db
    assert unit in ("B", "KiB", "MiB")
    assert float(size) > 0
    assert rows == "500"
    assert float(seconds) >= 0
    assert rate_unit in ("B/s", "KiB/s", "MiB/s")
    assert Path(location).is_file()
    assert location.endswith(".sql.zst")
    # and the catalog lists exactly that backup
    (entry,) = listed(tmp_path)
    assert entry["id"] == backup_id
    assert entry["database"] == small_db
    assert entry["tables"] == 1


def test_backup_json_for_several_databases(db_settings, small_db, make_database, tmp_path):
    other = make_database("cli2")
    result = cloudbackup(
        "backup",
        "--db-url",
        db_url(db_settings),
        "--database",
        small_db,
        "--database",
        other,
        "--compression",
        "gzip",
        "--json",
        "--data",
        str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    backups = json.loads(result.stdout)
    assert [b["database"] for b in backups] == [small_db, other]
    assert all(b["compression"] == "gzip" and b["location"].endswith(".sql.gz") for b in backups)
    assert {b["id"] for b in listed(tmp_path)} == {b["id"] for b in backups}


@pytest.mark.parametrize(
    ("url", "data", "message"),
    [
        ("nope://root@127.0.0.1/x", None, "bad --db-url"),
        ("mysql://root@127.0.0.1:3306/cbt_no_such_database", None, "unknown database"),
        ("mysql://root@127.0.0.1:1/x", None, "cannot reach"),
        ("mysql://root:certainly-wrong@127.0.0.1:3306/mysql", None, "access denied"),
        ("mysql://root@127.0.0.1:3306/mysql", "/proc/version/backups", "--data"),
        ("mysql://root@127.0.0.1:3306", None, "name the database"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(url, data, message, tmp_path):
    result = cloudbackup("backup", "--db-url", url, "--data", data or str(tmp_path))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert listed(tmp_path) == []


@pytest.mark.parametrize(("jobs", "message"), [("0", "--jobs 0: needs at least 1"), ("two", "--jobs")])
def test_bad_jobs_is_one_line_and_exit_code_2(jobs, message, tmp_path):
    result = cloudbackup(
        "backup", "--db-url", "mysql://root@127.0.0.1:3306/mysql", "--jobs", jobs, "--data", str(tmp_path)
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert message in result.stderr
    assert listed(tmp_path) == []


def test_unknown_database_among_several_is_rejected_before_anything_is_written(
    db_settings, small_db, tmp_path
):
    result = cloudbackup(
        "backup", "--db-url", db_url(db_settings), "--database", small_db, "--database", "cbt_missing_db",
        "--data", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 2
    assert "unknown database 'cbt_missing_db'" in result.stderr
    assert list(tmp_path.rglob("*.sql*")) == []


def test_a_backup_that_would_hold_nothing_is_refused_before_anything_is_written(
    db_settings, small_db, make_database, tmp_path
):
    viewed = make_database("bv")  # its only table, and a view over it (left out with it)
    run_sql(db_settings, viewed, "CREATE TABLE t (id INT PRIMARY KEY)", "CREATE VIEW v AS SELECT id FROM t")
    for args, message in [
        # every table of the database left out (its only one)
        (["--database", small_db, "--exclude-table", "t"], f"names every table of {small_db}"),
        (["--database", viewed, "--exclude-table", "t"], f"names every table of {viewed}"),
        # a schema that only shows the server's state
        (["--database", "information_schema"], "holds no data of its own"),
        (["--database", "PERFORMANCE_SCHEMA"], "holds no data of its own"),
    ]:
        result = cloudbackup("backup", "--db-url", db_url(db_settings), *args, "--data", str(tmp_path))
        assert result.returncode == 2, result.stdout
        assert message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert list(tmp_path.rglob("*.sql*")) == []


def test_all_databases_means_every_non_system_database(db_settings, small_db):
    names = resolve_databases(db_settings, None)
    assert small_db in names
    assert not SYSTEM_DATABASES & {n.lower() for n in names}
    with pytest.raises(UsageError, match="unknown database"):
        resolve_databases(db_settings, ["cbt_no_such_database"])


def test_progress_shows_on_a_terminal_only(db_settings, small_db, tmp_path):
    # Given stderr is a terminal
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [*CLI, "backup", "--db-url", db_url(db_settings, small_db), "--data", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=follower,
    )
    os.close(follower)
    out, _ = communicate_or_kill(proc, timeout=120)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    # Then it showed a progress line there, and stdout kept only the result line
    assert proc.returncode == 0
    assert f"backup {small_db}: ".encode() in seen
    assert b" tables, " in seen
    assert b" MiB/s" in seen
    assert len(out.decode().splitlines()) == 1


@pytest.fixture
def slow_db(db_settings, make_database):
    """Big enough (~60 MB of SQL) for the backup to be caught midway."""
    name = make_database("kill")
    with admin_connect(db_settings, name) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(255))")
        cur.execute(f"INSERT INTO t SELECT seq, REPEAT(SHA2(seq, 256), 3) FROM {numbers(300_000)}")
    return name


def test_a_backup_killed_midway_is_never_listed(db_settings, slow_db, tmp_path):
    # Given a backup under way (its partial data object exists)
    proc = subprocess.Popen(
        [*CLI, "backup", "--db-url", db_url(db_settings, slow_db), "--data", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not any(p.stat().st_size > 0 for p in tmp_path.rglob("*.partial")):
        assert proc.poll() is None, "the backup finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    # When the process is killed outright
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    # Then no backup is listed (the leftover partial file does not count) and there is no manifest
    assert proc.returncode == -signal.SIGKILL
    assert listed(tmp_path) == []
    assert list(tmp_path.rglob("*.manifest.json")) == []


def test_a_database_in_the_url_that_database_flags_leave_out_is_said_not_to_be_backed_up(
    db_settings, small_db, make_database, tmp_path
):
    # Given a database in --db-url and another one named with --database (a cron line edited by half)
    other = make_database("cli_other")
    # When the backup runs
    result = cloudbackup(
        "backup", "--db-url", db_url(db_settings, small_db), "--database", other, "--data", str(tmp_path)
    )
    # Then what --database names is backed up, as before, and one line says the URL's database is not
    assert result.returncode == 0, result.stderr
    assert [e["database"] for e in listed(tmp_path)] == [other]
    (warning,) = result.stderr.splitlines()
    assert f"--db-url names database {small_db}, which is not backed up" in warning
