"""`backup --all-databases` backs up the operator's databases, and one vanishing does not stop the rest.

The shared test server holds every other test's databases, coming and going: each test here lists
through a user granted only its own databases, so `--all-databases` sees exactly those.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import socket
import subprocess
import sys

import pytest

from cloudbackup.cli import cmd_backup
from cloudbackup.cli.main import main
from tests.fixtures.mariadb import admin_connect

pytestmark = pytest.mark.integration

PASSWORD = "All-dbs-9!"
CLI = [sys.executable, "-m", "cloudbackup.cli.main"]


@pytest.fixture
def scoped(db_settings, make_database):
    """(make, url): `make()` creates a database that a backup user sees; `url` is that user's."""
    tag = secrets.token_hex(3)
    user = f"cbt_all_{tag}"
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{PASSWORD}'")
        cur.execute(
            f"GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES ON `cbt\\_all{tag}\\_%`.* TO '{user}'@'%'"
        )

    def make() -> str:
        name = make_database(f"all{tag}")
        with admin_connect(db_settings, name) as conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE t (id INT PRIMARY KEY)")
            cur.execute("INSERT INTO t VALUES (1), (2)")
        return name

    yield make, f"mysql://{user}:{PASSWORD}@{db_settings.host}:{db_settings.port}"
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")


def create_databases(db_settings, *names):
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        for name in names:
            cur.execute(f"CREATE DATABASE `{name}`")


def backed_up(stdout: str) -> list[str]:
    return sorted(line.split()[1] for line in stdout.splitlines())


def test_staging_and_drill_databases_are_left_out_but_before_copies_kept(db_settings, scoped, tmp_path):
    # Given a database, a restore's staging database and a drill's scratch databases (with the
    # staging database a drill restores through) beside it, and a copy an in-place restore kept
    make, url = scoped
    source = make()
    kept = f"{source}_before_20240101T000000"
    transient = [f"{source}__cbrestore_0123abcd", f"{source}__cbdrill_4567ef89"]
    transient.append(f"{transient[1]}__cbrestore_89abcdef")
    create_databases(db_settings, kept, *transient)

    # When every database is backed up
    done = subprocess.run(
        [*CLI, "backup", "--db-url", url, "--all-databases", "--data", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    # Then the staging and scratch databases were not; the operator's database and copy were
    assert done.returncode == 0, done.stderr
    assert backed_up(done.stdout) == sorted([source, kept])


def test_a_database_dropped_before_its_turn_does_not_stop_the_others(
    db_settings, scoped, tmp_path, monkeypatch, capsys, caplog
):
    # Given three databases listed, the second dropped while the first is backed up
    make, url = scoped
    first, dropped, last = sorted(make() for _ in range(3))
    real_backup = cmd_backup.backup_database

    def backup_then_drop(settings, database, *args, **kwargs):
        if database == first:
            with admin_connect(db_settings) as conn, conn.cursor() as cur:
                cur.execute(f"DROP DATABASE `{dropped}`")
        return real_backup(settings, database, *args, **kwargs)

    monkeypatch.setattr(cmd_backup, "backup_database", backup_then_drop)

    # When every database is backed up
    with caplog.at_level(logging.WARNING):
        code = main(["backup", "--db-url", url, "--all-databases", "--data", str(tmp_path)])

    # Then the others were backed up, one line said which was not, and the run failed (not bad usage)
    assert backed_up(capsys.readouterr().out) == [first, last]
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings
    assert dropped in warnings[0]
    assert "\n" not in warnings[0]
    assert code == 1


def test_a_server_gone_mid_run_fails_the_run_for_what_is_left_not_as_bad_usage(
    db_settings, scoped, tmp_path, monkeypatch, capsys, caplog
):
    # Given three databases listed, the server no longer answering once the first is backed up
    make, url = scoped
    first, second, last = sorted(make() for _ in range(3))
    real_backup = cmd_backup.backup_database
    with socket.socket() as closed:  # a port nothing listens on: where the server was, after a crash
        closed.bind(("127.0.0.1", 0))
        gone_port = closed.getsockname()[1]

    def backup_until_the_server_goes(settings, database, *args, **kwargs):
        if database != first:
            settings = dataclasses.replace(settings, port=gone_port)
        return real_backup(settings, database, *args, **kwargs)

    monkeypatch.setattr(cmd_backup, "backup_database", backup_until_the_server_goes)

    # When every database is backed up
    with caplog.at_level(logging.WARNING):
        code = main(["backup", "--db-url", url, "--all-databases", "--data", str(tmp_path)])

    # Then the first was kept, one line names the ones not backed up and why, and the run failed
    # (exit 1: the server answered when the run began; not bad usage, exit 2)
    assert backed_up(capsys.readouterr().out) == [first]
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings
    assert f"{second}, {last}: not backed up: cannot reach" in warnings[0]
    assert code == 1
