"""`--db-password-file`: the password comes from a file, never from the command line."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from tests.e2e.test_cli_backup import cloudbackup, listed
from tests.fixtures.mariadb import admin_connect

pytestmark = pytest.mark.e2e

PASSWORD = "file-pw-Q7x!"


@pytest.fixture
def password_user(db_settings, make_database):
    """A user that needs a password, owning one small database: (user, database)."""
    database = make_database("pwfile")
    user = f"cb_pw_{secrets.token_hex(4)}"
    with admin_connect(db_settings, database) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE t (id INT PRIMARY KEY)")
        cur.execute("INSERT INTO t VALUES (1), (2), (3)")
        cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{PASSWORD}'")
        cur.execute(f"GRANT ALL ON `{database}`.* TO '{user}'@'%'")
    yield user, database
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")


def url(settings, user: str, database: str) -> str:
    return f"mysql://{user}@{settings.host}:{settings.port}/{database}"


def test_the_password_is_read_from_the_file_without_its_newline(db_settings, password_user, tmp_path: Path):
    user, database = password_user
    password_file = tmp_path / "pw"
    password_file.write_text(PASSWORD + "\n")  # as `echo PASSWORD > FILE` writes it
    args = ["backup", "--db-url", url(db_settings, user, database), "--db-password-file", str(password_file)]
    result = cloudbackup(*args, "--data", str(tmp_path / "store"))
    assert result.returncode == 0, result.stderr
    assert [b["database"] for b in listed(tmp_path / "store")] == [database]
    assert all(PASSWORD not in arg for arg in args)  # what `ps` would show


def test_an_unreadable_password_file_is_one_line_and_exit_2(db_settings, password_user, tmp_path: Path):
    user, database = password_user
    missing = tmp_path / "no-such-file"
    result = cloudbackup(
        "backup", "--db-url", url(db_settings, user, database), "--db-password-file", str(missing),
        "--data", str(tmp_path / "store"),
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert f"--db-password-file {missing}: cannot read it" in result.stderr
    assert not (tmp_path / "store").exists()


def test_a_wrong_password_in_the_file_is_access_denied(db_settings, password_user, tmp_path: Path):
    user, database = password_user
    password_file = tmp_path / "pw"
    password_file.write_text("not-the-password\n")
    result = cloudbackup(
        "backup", "--db-url", url(db_settings, user, database), "--db-password-file", str(password_file),
        "--data", str(tmp_path / "store"),
    )  # fmt: skip
    assert result.returncode == 2
    assert "access denied" in result.stderr
    assert "not-the-password" not in result.stderr


def test_a_password_in_both_the_url_and_a_file_is_refused(db_settings, tmp_path: Path):
    password_file = tmp_path / "pw"
    password_file.write_text("x")
    result = cloudbackup(
        "backup", "--db-url", "mysql://u:inline@127.0.0.1/db", "--db-password-file", str(password_file),
        "--data", str(tmp_path / "store"),
    )  # fmt: skip
    assert result.returncode == 2
    assert "give the password once" in result.stderr
