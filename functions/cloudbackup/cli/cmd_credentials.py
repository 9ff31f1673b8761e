"""`cloudbackup credentials --stack NAME --out FILE`: the deployed operator user's key as a credentials file.

Reads the stack's outputs from CloudFormation, the access key from the Secrets Manager secret they
name, and writes an AWS shared credentials file (`[default]`) with mode 0600 for
`--backup-credential FILE`. An existing file is only replaced with `--force`, and never half-written.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cloudbackup.errors import OperationError, UsageError

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_secretsmanager import SecretsManagerClient

# Names the stack (infra/stack.py, infra/access.py) and this command share.
OUTPUT_SECRET = "AccessKeySecretArn"  # noqa: S105 (an output name)
OUTPUT_USER = "OperatorUserName"
OUTPUT_BUCKET_URL = "BackupBucketUrl"
SECRET_KEY_ID_FIELD = "aws_access_key_id"  # noqa: S105 (a field name)
SECRET_ACCESS_KEY_FIELD = "aws_secret_access_key"  # noqa: S105 (a field name)


def render_credentials(key_id: str, secret_key: str) -> str:
    return f"[default]\n{SECRET_KEY_ID_FIELD} = {key_id}\n{SECRET_ACCESS_KEY_FIELD} = {secret_key}\n"


def write_private_file(path: Path, text: str, *, force: bool) -> None:
    """Write `text` to `path` with mode 0600, atomically; refuse to replace a file unless `force`."""
    if path.exists() and not force:
        raise UsageError(f"{path} exists; pass --force to overwrite it")
    if not path.parent.is_dir():
        raise UsageError(f"{path.parent} is not a directory")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # created with mode 0600
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(tmp, 0o600)
        if force:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails if the file appeared meanwhile: never replaces one silently
    except FileExistsError:
        raise UsageError(f"{path} exists; pass --force to overwrite it") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def stack_outputs(cloudformation: CloudFormationClient, stack: str) -> dict[str, str]:
    from botocore.exceptions import ClientError

    try:
        stacks = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as exc:
        if "does not exist" in str(exc):
            raise UsageError(f"stack {stack!r} not found in this account and region (see --region)") from None
        raise OperationError(f"cannot read stack {stack!r}: {exc}") from None
    if len(stacks) != 1:  # one stack per name; anything else is not the stack asked for
        raise UsageError(f"stack {stack!r} not found in this account and region (see --region)")
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", []) if "OutputKey" in o}


def access_key(secrets: SecretsManagerClient, secret_arn: str) -> tuple[str, str]:
    from botocore.exceptions import ClientError

    try:
        value = secrets.get_secret_value(SecretId=secret_arn)["SecretString"]
    except ClientError as exc:
        raise OperationError(f"cannot read the access key secret {secret_arn}: {exc}") from None
    try:
        fields: Any = json.loads(value)
        return str(fields[SECRET_KEY_ID_FIELD]), str(fields[SECRET_ACCESS_KEY_FIELD])
    except (ValueError, KeyError, TypeError):
        raise OperationError(
            f"secret {secret_arn} does not hold {SECRET_KEY_ID_FIELD} and {SECRET_ACCESS_KEY_FIELD}"
        ) from None


def run(args: argparse.Namespace) -> int:
    import boto3
    from botocore.exceptions import BotoCoreError, NoCredentialsError, NoRegionError

    for flag, value in (("--stack", args.stack), ("--out", args.out)):
        # `--stack "$STACK"` with the variable unset: CloudFormation describes every stack for an empty
        # name (this would write the first one's key), and an empty path is the current directory.
        if not value.strip():
            raise UsageError(f"{flag} is empty (an unset variable?): give its value")
    out = Path(args.out).expanduser()
    if out.is_dir():  # `--out ~/.aws`: --force would not make a directory a file
        raise UsageError(f"--out {out} is a directory: name the file to write, e.g. {out / 'credentials'}")
    if out.exists() and not args.force:  # before any AWS call: nothing to fetch for a refusal
        raise UsageError(f"{out} exists; pass --force to overwrite it")
    try:
        session = boto3.session.Session(region_name=args.region)
        cloudformation = session.client("cloudformation", endpoint_url=args.endpoint)
        outputs = stack_outputs(cloudformation, args.stack)
        secret_arn = outputs.get(OUTPUT_SECRET)
        if not secret_arn:
            raise UsageError(
                f"stack {args.stack!r} has no output {OUTPUT_SECRET}: is it a cloudbackup stack?"
            )
        secrets = session.client("secretsmanager", endpoint_url=args.endpoint)
        key_id, secret_key = access_key(secrets, secret_arn)
    except NoRegionError:
        raise UsageError("no AWS region: pass --region or set AWS_REGION") from None
    except NoCredentialsError:
        raise UsageError("no AWS credentials to read the stack with (environment, profile or SSO)") from None
    except BotoCoreError as exc:
        raise OperationError(f"cannot reach AWS: {exc}") from None
    write_private_file(out, render_credentials(key_id, secret_key), force=args.force)
    user = outputs.get(OUTPUT_USER, "the operator user")
    print(f"wrote the access key of {user} to {out}", file=sys.stderr)
    bucket_url = outputs.get(OUTPUT_BUCKET_URL)
    if bucket_url:
        region = session.region_name
        print(f"use: --backup-bucket {bucket_url} --backup-region {region} --backup-credential {out}")
    return 0
