"""The operator's S3 flags through the real CLI: bad usage and permanent S3 errors are one line, exit 2."""

import os
import subprocess
import sys

import pytest

from tests.fixtures.aws import TEST_SECRET_ACCESS_KEY


def cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "cloudbackup.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def assert_one_line_error(result, code, *phrases):
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for phrase in phrases:
        assert phrase in lines[0]
    assert "Traceback" not in result.stderr
    assert TEST_SECRET_ACCESS_KEY not in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("flags", "phrase"),
    [
        (["--backup-bucket", "bytebase-dev", "--backup-region", "us-east-1"], "s3://BUCKET[/PREFIX]"),
        (
            ["--backup-bucket", "https://bytebase-dev.s3.amazonaws.com", "--backup-region", "us-east-1"],
            "s3://",
        ),
        (["--backup-bucket", "s3://Bad_Name", "--backup-region", "us-east-1"], "not a valid bucket name"),
        (["--backup-bucket", "s3://bytebase-dev"], "--backup-bucket needs --backup-region"),
        (["--backup-region", "us-east-1"], "--backup-region needs --backup-bucket"),
        (["--backup-credential", "/tmp/x"], "--backup-credential needs --backup-bucket"),
        (["--backup-bucket", "s3://bytebase-dev", "--backup-region", "mars"], "not a region name"),
    ],
)
def test_bad_storage_flags_are_usage_errors(tmp_path, flags, phrase):
    # No region from the environment either (the session's AWS test set-up gives one)
    env = {k: v for k, v in os.environ.items() if not k.endswith("REGION") and "CLOUDBACKUP_" not in k}
    result = cli("list", "--data", str(tmp_path), *flags, env=env)
    assert_one_line_error(result, 2, phrase)


def test_a_missing_credentials_file_or_profile_is_a_usage_error(tmp_path, moto_endpoint, s3_bucket):
    base = [
        "list",
        "--data",
        str(tmp_path),
        "--backup-bucket",
        f"s3://{s3_bucket}",
        "--backup-region",
        "us-east-1",
    ]
    base += ["--backup-endpoint", moto_endpoint]
    result = cli(*base, "--backup-credential", str(tmp_path / "missing"))
    assert_one_line_error(result, 2, "does not exist", str(tmp_path / "missing"))
    creds = tmp_path / "credentials"
    creds.write_text(
        f"[default]\naws_access_key_id = AKIAX\naws_secret_access_key = {TEST_SECRET_ACCESS_KEY}\n"
    )
    result = cli(*base, "--backup-credential", str(creds), "--backup-profile", "prod")
    assert_one_line_error(result, 2, "no profile [prod]", "default")


def test_a_credentials_file_is_used_for_s3(tmp_path, moto_endpoint, s3_bucket):
    creds = tmp_path / "credentials"
    creds.write_text(
        f"[ops]\naws_access_key_id = AKIAOPS\naws_secret_access_key = {TEST_SECRET_ACCESS_KEY}\n"
    )
    args = ["list", "--json", "--data", str(tmp_path / "data"), "--backup-bucket", f"s3://{s3_bucket}/x"]
    args += ["--backup-region", "us-east-1", "--backup-endpoint", moto_endpoint]
    result = cli(*args, "--backup-credential", str(creds), "--backup-profile", "ops")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_wrong_region_names_the_real_one(tmp_path, moto_endpoint, aws_client):
    bucket = "cbt-eu-bucket-region-check"
    aws_client("s3", region="eu-west-1").create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    result = cli(
        "list",
        "--data",
        str(tmp_path),
        "--backup-bucket",
        f"s3://{bucket}",
        "--backup-region",
        "us-east-1",
        "--backup-endpoint",
        moto_endpoint,
    )
    assert_one_line_error(
        result, 2, f"S3 bucket {bucket} is in region eu-west-1, not us-east-1", "--backup-region eu-west-1"
    )
    aws_client("s3", region="eu-west-1").delete_bucket(Bucket=bucket)


def test_a_missing_bucket_names_bucket_region_and_credentials(tmp_path, moto_endpoint):
    result = cli(
        "list",
        "--data",
        str(tmp_path),
        "--backup-bucket",
        "s3://cbt-no-such-bucket",
        "--backup-region",
        "us-east-1",
        "--backup-endpoint",
        moto_endpoint,
    )
    assert_one_line_error(
        result,
        2,
        "S3 bucket cbt-no-such-bucket does not exist",
        "region us-east-1",
        "default AWS credential chain",
    )


def test_an_unreachable_endpoint_is_a_failed_operation(tmp_path):
    result = cli(
        "list",
        "--data",
        str(tmp_path),
        "--backup-bucket",
        "s3://cbt-any",
        "--backup-region",
        "us-east-1",
        "--backup-endpoint",
        "http://127.0.0.1:9",
    )
    assert_one_line_error(result, 1, "cannot reach S3", "cbt-any")


@pytest.mark.parametrize("variable", ["CLOUDBACKUP_BACKUP_REGION", "AWS_REGION"])
def test_a_wrong_region_from_the_environment_is_said_to_come_from_it(
    tmp_path, moto_endpoint, aws_client, variable
):
    # Given a bucket in eu-west-1, and a shell whose environment says us-east-1 (no --backup-region typed)
    bucket = f"cbt-eu-bucket-{variable.lower().replace('_', '-')}"
    aws_client("s3", region="eu-west-1").create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith("REGION") and "CLOUDBACKUP_" not in k}
    # When the operator lists the bucket
    result = cli(
        "list", "--data", str(tmp_path), "--backup-bucket", f"s3://{bucket}",
        "--backup-endpoint", moto_endpoint, env={**env, variable: "us-east-1"},
    )  # fmt: skip
    # Then the one line says where the region it used came from, since the operator never typed it
    assert_one_line_error(result, 2, "not us-east-1", f"region us-east-1 (from ${variable})")
    aws_client("s3", region="eu-west-1").delete_bucket(Bucket=bucket)


@pytest.mark.parametrize("variable", ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"])
def test_an_aws_endpoint_variable_never_picks_the_store_silently(
    tmp_path, moto_endpoint, s3_bucket, variable
):
    # Given an AWS endpoint variable left in the environment by another tool (a local emulator's), and
    # the operator naming the bucket but no endpoint, as for AWS itself
    env = {**os.environ, variable: moto_endpoint}
    bucket = ["--backup-bucket", f"s3://{s3_bucket}/prod", "--backup-region", "us-east-1"]
    # When a command reads or writes that store
    for command in (["list"], ["prune", "--keep-last", "1"]):
        result = cli(*command, "--data", str(tmp_path / "data"), *bucket, env=env)
        # Then it is refused in one line naming the variable and the flag that says where S3 is,
        # instead of listing, pruning or writing the emulator's bucket as if it were AWS's
        assert_one_line_error(result, 2, variable, "--backup-endpoint")
    # and the same endpoint given as --backup-endpoint is used
    result = cli(
        "list",
        "--json",
        "--data",
        str(tmp_path / "data"),
        *bucket,
        "--backup-endpoint",
        moto_endpoint,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_prune_of_a_named_data_directory_is_not_turned_to_the_bucket_of_the_environment(
    tmp_path, moto_endpoint, s3_bucket
):
    # Given a bucket set in the environment (a profile script's) and an operator pruning the local
    # directory named on the command line
    env = {
        **os.environ,
        "CLOUDBACKUP_BACKUP_BUCKET": f"s3://{s3_bucket}/prod",
        "CLOUDBACKUP_BACKUP_REGION": "us-east-1",
        "CLOUDBACKUP_BACKUP_ENDPOINT": moto_endpoint,
    }
    local = str(tmp_path / "data")
    # When prune is given --data
    result = cli("prune", "--keep-last", "1", "--dry-run", "--data", local, env=env)
    # Then it is refused in one line naming both stores, rather than pruning the bucket the flag
    # did not name (prune works on one store)
    assert_one_line_error(result, 2, "--data", "CLOUDBACKUP_BACKUP_BUCKET", f"s3://{s3_bucket}/prod")
    # and without --data the variable's bucket is pruned, as before
    result = cli("prune", "--keep-last", "1", "--dry-run", env=env)
    assert result.returncode == 0, result.stderr
    assert f"s3://{s3_bucket}/prod" in result.stdout


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CLOUDBACKUP_BACKUP_BUCKET", "s3:/oops"),
        ("CLOUDBACKUP_BACKUP_CREDENTIAL", "/nonexistent/old-credentials"),
        ("CLOUDBACKUP_BACKUP_ENDPOINT", "ftp://old-minio"),
        ("CLOUDBACKUP_BACKUP_PROFILE", "staging"),
    ],
)
def test_a_bad_storage_setting_from_the_environment_is_named_as_the_variable(
    tmp_path, moto_endpoint, s3_bucket, variable, value
):
    # Given a storage variable left stale in the environment, and a command line that names the
    # bucket, region, endpoint and credentials file itself only where the variable does not
    creds = tmp_path / "credentials"
    creds.write_text(
        f"[default]\naws_access_key_id = AKIAX\naws_secret_access_key = {TEST_SECRET_ACCESS_KEY}\n"
    )
    flags = {
        "CLOUDBACKUP_BACKUP_BUCKET": ["--backup-bucket", f"s3://{s3_bucket}"],
        "CLOUDBACKUP_BACKUP_CREDENTIAL": ["--backup-credential", str(creds)],
        "CLOUDBACKUP_BACKUP_ENDPOINT": ["--backup-endpoint", moto_endpoint],
    }
    args = [arg for name, given in flags.items() if name != variable for arg in given]
    env = {**os.environ, variable: value, "CLOUDBACKUP_BACKUP_REGION": "us-east-1"}
    # When a command runs with it
    result = cli("list", "--data", str(tmp_path / "data"), *args, env=env)
    # Then the one-line error names the variable the bad value came from (the operator's command
    # line holds no such flag), with the value
    assert_one_line_error(result, 2, f"${variable}", value)
