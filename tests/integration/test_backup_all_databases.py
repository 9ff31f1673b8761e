"""`backup --all-databases` backs up the operator's databases, not a restore's or a drill's.

The shared test server holds every other test's databases, coming and going: each test here lists
through a user granted only its own databases, so `--all-databases` sees exactly those.
"""

from __future__ import annotations

import secrets
import subprocess
import sys

import pytest

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
