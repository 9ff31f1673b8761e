"""`cloudbackup credentials` on the local endpoint: outputs in CloudFormation, the key in Secrets Manager."""

from __future__ import annotations

import configparser
import json
import stat
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cloudbackup.cli.cmd_credentials import OUTPUT_BUCKET_URL, OUTPUT_SECRET, OUTPUT_USER
from cloudbackup.cli.main import main

pytestmark = pytest.mark.integration

KEY_ID = "AKIAOPERATOR000001"
SECRET_KEY = "oper/ator+Secret0000000000000000000000000"


def deploy_stack(aws_client: Callable[..., Any], outputs: dict[str, str]) -> str:
    """A stack with these outputs (a placeholder resource: CloudFormation needs one)."""
    name = f"cbt-{uuid.uuid4().hex[:10]}"
    template = {
        "Resources": {"Placeholder": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    aws_client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))
    return name


def store_key(aws_client: Callable[..., Any], value: str) -> str:
    secret = aws_client("secretsmanager").create_secret(
        Name=f"cbt-key-{uuid.uuid4().hex[:10]}", SecretString=value
    )
    arn: str = secret["ARN"]
    return arn


def run(endpoint: str, stack: str, out: Path, *extra: str) -> int:
    return main(
        [
            "credentials",
            "--stack",
            stack,
            "--out",
            str(out),
            "--region",
            "us-east-1",
            "--endpoint",
            endpoint,
            *extra,
        ]
    )


def test_writes_the_stacks_key_as_a_private_credentials_file(
    moto_endpoint: str, aws_client: Callable[..., Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a deployed stack whose secret holds the operator's key
    arn = store_key(
        aws_client, json.dumps({"aws_access_key_id": KEY_ID, "aws_secret_access_key": SECRET_KEY})
    )
    stack = deploy_stack(
        aws_client,
        {OUTPUT_SECRET: arn, OUTPUT_USER: "cloudbackup-operator", OUTPUT_BUCKET_URL: "s3://b/backups"},
    )
    out = tmp_path / "credentials"
    # When the operator asks for the credentials file
    code = run(moto_endpoint, stack, out)
    # Then it holds the key in the [default] profile, readable by its owner only
    assert code == 0
    parser = configparser.ConfigParser()
    parser.read(out)
    assert dict(parser["default"]) == {"aws_access_key_id": KEY_ID, "aws_secret_access_key": SECRET_KEY}
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    streams = capsys.readouterr()
    assert SECRET_KEY not in streams.out + streams.err
    assert (
        f"--backup-bucket s3://b/backups --backup-region us-east-1 --backup-credential {out}" in streams.out
    )


def test_overwrites_only_with_force(
    moto_endpoint: str, aws_client: Callable[..., Any], tmp_path: Path
) -> None:
    arn = store_key(
        aws_client, json.dumps({"aws_access_key_id": KEY_ID, "aws_secret_access_key": SECRET_KEY})
    )
    stack = deploy_stack(aws_client, {OUTPUT_SECRET: arn})
    out = tmp_path / "credentials"
    out.write_text("[default]\naws_access_key_id = OLD\n")
    assert run(moto_endpoint, stack, out) == 2
    assert "OLD" in out.read_text()
    assert run(moto_endpoint, stack, out, "--force") == 0
    assert KEY_ID in out.read_text()


@pytest.mark.parametrize(
    ("outputs", "secret", "code", "message"),
    [
        (None, None, 2, "stack {stack!r} not found"),
        ({"Other": "x"}, None, 2, "has no output AccessKeySecretArn: is it a cloudbackup stack?"),
        ({}, "not json", 1, "does not hold aws_access_key_id and aws_secret_access_key"),
    ],
)
def test_bad_stack_or_secret_is_one_line_and_writes_nothing(
    moto_endpoint: str,
    aws_client: Callable[..., Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    outputs: dict[str, str] | None,
    secret: str | None,
    code: int,
    message: str,
) -> None:
    if outputs is None:
        stack = "cbt-no-such-stack"
    else:
        if secret is not None:
            outputs = {**outputs, OUTPUT_SECRET: store_key(aws_client, secret)}
        stack = deploy_stack(aws_client, outputs)
    out = tmp_path / "credentials"
    assert run(moto_endpoint, stack, out) == code
    err = capsys.readouterr().err
    assert message.format(stack=stack) in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize(("empty", "flag"), [("stack", "--stack"), ("out", "--out")])
def test_an_empty_stack_or_out_is_refused_and_writes_nothing(
    moto_endpoint: str,
    aws_client: Callable[..., Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    empty: str,
    flag: str,
) -> None:
    # Given a deployed stack (an empty --stack would have CloudFormation describe every stack)
    arn = store_key(
        aws_client, json.dumps({"aws_access_key_id": KEY_ID, "aws_secret_access_key": SECRET_KEY})
    )
    stack = deploy_stack(aws_client, {OUTPUT_SECRET: arn})
    out = tmp_path / "credentials"
    # When the operator's script passes an unset variable as --stack or --out
    given = {"stack": stack, "out": str(out), empty: ""}
    code = main(
        ["credentials", "--stack", given["stack"], "--out", given["out"], "--region", "us-east-1",
         "--endpoint", moto_endpoint]
    )  # fmt: skip
    # Then it is refused in one line naming the empty flag, and no key is written anywhere
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"{flag} is empty" in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize("force", [[], ["--force"]], ids=["plain", "force"])
def test_a_directory_as_out_is_refused_naming_a_file_to_give(
    moto_endpoint: str,
    aws_client: Callable[..., Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    force: list[str],
) -> None:
    # Given a deployed stack, and a directory where the operator meant a file (`--out ~/.aws`)
    arn = store_key(
        aws_client, json.dumps({"aws_access_key_id": KEY_ID, "aws_secret_access_key": SECRET_KEY})
    )
    stack = deploy_stack(aws_client, {OUTPUT_SECRET: arn})
    directory = tmp_path / "aws"
    directory.mkdir()
    # When it is given as --out (with --force too, as the old message advised)
    code = run(moto_endpoint, stack, directory, *force)
    # Then it is refused in one line saying it is a directory, and the directory is left as it was
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"--out {directory} is a directory" in err
    assert len(err.strip().splitlines()) == 1
    assert directory.is_dir()
    assert list(directory.iterdir()) == []
