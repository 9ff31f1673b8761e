"""`--db-password-file`: the password comes from a file, never from the command line."""

from __future__ import annotations

import os
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


def test_access_denied_says_which_password_was_used_and_which_was_ignored(
    db_settings, password_user, tmp_path: Path
):
    # Given the right password in MYSQL_PWD and in a file, and a wrong one in the URL or the file
    user, database = password_user
    right, wrong = tmp_path / "right", tmp_path / "wrong"
    right.write_text(PASSWORD + "\n")
    wrong.write_text("not-the-password\n")
    host = f"{db_settings.host}:{db_settings.port}"
    env = {**os.environ, "MYSQL_PWD": PASSWORD}
    no_pwd = {k: v for k, v in os.environ.items() if k != "MYSQL_PWD"}
    cases = [
        # (URL, extra flags, environment, what stderr must say)
        (f"mysql://{user}:bad@{host}/{database}", [], env, "the password in --db-url; MYSQL_PWD is ignored"),
        (url(db_settings, user, database), ["--db-password-file", str(wrong)], env,
         f"the password from --db-password-file {wrong}; MYSQL_PWD is ignored"),
        (url(db_settings, user, database), [], no_pwd, "no password given"),
    ]  # fmt: skip
    for db_url, flags, environment, said in cases:
        # When the operator runs a backup with it
        result = cloudbackup(
            "backup", "--db-url", db_url, *flags, "--data", str(tmp_path / "store"), env=environment
        )  # fmt: skip
        # Then access is denied in one line naming the password used, never the password itself
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1, result.stderr
        assert "access denied" in result.stderr
        assert said in result.stderr, result.stderr
        assert PASSWORD not in result.stderr
        assert "not-the-password" not in result.stderr
