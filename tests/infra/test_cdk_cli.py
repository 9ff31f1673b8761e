"""`npx aws-cdk synth` on a fresh copy of the repository: no AWS account, no credentials, no lookups."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.infra.conftest import REPO

pytestmark = pytest.mark.infra

CDK = REPO / "node_modules" / ".bin" / "cdk"
# Variables that could let the CLI reach an AWS account; the synth must not need any of them.
_AWS_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_REGION",
)


def fresh_copy(target: Path) -> Path:
    """The repository's files as a clone has them (tracked + new, minus ignored), plus the installed tools."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    (target / ".venv").symlink_to(REPO / ".venv")
    (target / "node_modules").symlink_to(REPO / "node_modules")
    return target


def test_cdk_cli_synthesizes_the_example_offline(tmp_path: Path) -> None:
    assert CDK.exists(), "the CDK CLI is missing: run `npm ci` (make test does)"
    # Given a fresh copy and an environment without any AWS account or credentials
    repo = fresh_copy(tmp_path / "repo")
    env = {k: v for k, v in os.environ.items() if k not in _AWS_VARIABLES}
    empty = tmp_path / "aws"
    empty.mkdir()
    env.update(
        AWS_CONFIG_FILE=str(empty / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(empty / "credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        CDK_DISABLE_CLI_TELEMETRY="true",
    )
    # When the operator runs `npx aws-cdk synth`
    result = subprocess.run(
        [str(CDK), "synth", "--no-notices", "--quiet", "--output", str(tmp_path / "cdk.out")],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    # Then it succeeds with the whole shape, without context lookups
    assert result.returncode == 0, result.stderr[-3000:]
    template = json.loads((tmp_path / "cdk.out" / "CloudBackup.template.json").read_text())
    types = {r["Type"] for r in template["Resources"].values()}
    assert {
        "AWS::S3::Bucket",
        "AWS::IAM::User",
        "AWS::Lambda::Function",
        "AWS::Scheduler::Schedule",
        "AWS::CloudWatch::Alarm",
        "AWS::EventSchemas::Schema",
    } <= types
    assert not (repo / "cdk.context.json").exists(), "a context lookup happened"
    manifest = json.loads((tmp_path / "cdk.out" / "manifest.json").read_text())
    assert "missing" not in manifest
