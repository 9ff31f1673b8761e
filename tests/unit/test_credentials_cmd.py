"""`cloudbackup credentials`: the credentials file it writes, and how it refuses to overwrite one."""

from __future__ import annotations

import configparser
import stat
from pathlib import Path

import pytest

from cloudbackup.cli.cmd_credentials import render_credentials, write_private_file
from cloudbackup.cli.main import main
from cloudbackup.errors import UsageError


def test_rendered_file_is_a_default_profile_botocore_reads() -> None:
    text = render_credentials("AKIAEXAMPLE", "s3cr/t+key")
    parser = configparser.ConfigParser()
    parser.read_string(text)
    assert parser.sections() == ["default"]
    assert dict(parser["default"]) == {
        "aws_access_key_id": "AKIAEXAMPLE",
        "aws_secret_access_key": "s3cr/t+key",
    }


def test_new_file_is_private_and_nothing_else_is_left(tmp_path: Path) -> None:
    out = tmp_path / "credentials"
    write_private_file(out, "secret\n", force=False)
    assert out.read_text() == "secret\n"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["credentials"]


def test_existing_file_is_kept_without_force(tmp_path: Path) -> None:
    out = tmp_path / "credentials"
    out.write_text("mine\n")
    with pytest.raises(UsageError, match="exists; pass --force"):
        write_private_file(out, "new\n", force=False)
    assert out.read_text() == "mine\n"
    assert [p.name for p in tmp_path.iterdir()] == ["credentials"]


def test_force_replaces_and_tightens_the_mode(tmp_path: Path) -> None:
    out = tmp_path / "credentials"
    out.write_text("old\n")
    out.chmod(0o644)
    write_private_file(out, "new\n", force=True)
    assert out.read_text() == "new\n"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_missing_directory_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is not a directory"):
        write_private_file(tmp_path / "nope" / "credentials", "x", force=False)


def test_cli_refuses_before_asking_aws(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given an existing file and no AWS endpoint at all
    out = tmp_path / "credentials"
    out.write_text("mine\n")
    # When the command runs without --force
    code = main(
        ["credentials", "--stack", "CloudBackup", "--out", str(out), "--endpoint", "http://127.0.0.1:9"]
    )
    # Then it exits 2 with one line, and the file is unchanged
    assert code == 2
    assert capsys.readouterr().err.strip() == f"cloudbackup: {out} exists; pass --force to overwrite it"
    assert out.read_text() == "mine\n"


def test_no_region_anywhere_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given no region in the environment or the AWS config files
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    # When the command runs without --region
    code = main(["credentials", "--stack", "CloudBackup", "--out", str(tmp_path / "credentials")])
    # Then it says how to give one, and writes nothing
    assert code == 2
    assert capsys.readouterr().err.strip() == "cloudbackup: no AWS region: pass --region or set AWS_REGION"
    assert not (tmp_path / "credentials").exists()
