"""Operator access: a scoped managed policy, an IAM user, its key in Secrets Manager, the outputs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cloudbackup.cli.cmd_credentials import (
    OUTPUT_BUCKET_URL,
    OUTPUT_SECRET,
    OUTPUT_USER,
    SECRET_ACCESS_KEY_FIELD,
    SECRET_KEY_ID_FIELD,
)
from tests.infra.conftest import Synth, actions_of

pytestmark = pytest.mark.infra


def managed_policy(synth: Synth) -> list[dict[str, Any]]:
    [policy] = synth.resources("AWS::IAM::ManagedPolicy").values()
    statements: list[dict[str, Any]] = policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def by_sid(statements: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in statements}


def test_operator_policy_allows_only_the_engines_actions_under_the_prefix(example: Synth) -> None:
    statements = by_sid(managed_policy(example))
    assert set(statements) == {"ListBackups", "BackupObjects", "BackupKey"}
    assert statements["ListBackups"]["Action"] == "s3:ListBucket"
    assert statements["ListBackups"]["Condition"] == {"StringLike": {"s3:prefix": ["backups/*"]}}
    assert set(statements["BackupObjects"]["Action"]) == {
        "s3:GetObject",
        "s3:PutObject",
        "s3:AbortMultipartUpload",
        "s3:DeleteObject",  # allow_prune is on in the example
    }
    assert statements["BackupObjects"]["Resource"]["Fn::Join"][1][1] == "/backups/*"
    assert set(statements["BackupKey"]["Action"]) == {"kms:GenerateDataKey", "kms:Decrypt"}
    assert "kms:ViaService" in statements["BackupKey"]["Condition"]["StringEquals"]
    assert not any(a.endswith("*") for a in actions_of(list(statements.values())))


def test_without_prune_the_operator_cannot_delete(full: Synth) -> None:
    assert "s3:DeleteObject" not in actions_of(managed_policy(full))


def test_user_holds_the_policy_and_the_key_secret_holds_the_access_key(example: Synth) -> None:
    [(user_id, user)] = example.resources("AWS::IAM::User").items()
    [policy_id] = example.resources("AWS::IAM::ManagedPolicy")
    assert user["Properties"]["ManagedPolicyArns"] == [{"Ref": policy_id}]
    [(key_id, key)] = example.resources("AWS::IAM::AccessKey").items()
    assert key["Properties"]["UserName"] == {"Ref": user_id}
    [secret] = example.resources("AWS::SecretsManager::Secret").values()
    body = secret["Properties"]["SecretString"]["Fn::Join"][1]
    text = json.dumps(body)
    assert SECRET_KEY_ID_FIELD in text
    assert SECRET_ACCESS_KEY_FIELD in text
    assert {"Ref": key_id} in body
    assert {"Fn::GetAtt": [key_id, "SecretAccessKey"]} in body


def test_raising_the_serial_rotates_the_access_key(example: Synth, full: Synth) -> None:
    [first] = example.resources("AWS::IAM::AccessKey").values()
    [second] = full.resources("AWS::IAM::AccessKey").values()
    assert first["Properties"]["Serial"] == 1
    assert second["Properties"]["Serial"] == 2


def test_outputs_name_user_secret_and_command_but_never_the_secret_key(example: Synth) -> None:
    outputs = example.json["Outputs"]
    assert {OUTPUT_SECRET, OUTPUT_USER, OUTPUT_BUCKET_URL, "CredentialsCommand", "BucketName"} <= set(outputs)
    assert outputs["CredentialsCommand"]["Value"] == (
        "cloudbackup credentials --stack CloudBackupTest --out ~/.aws/cloudbackup-credentials"
    )
    assert "SecretAccessKey" not in json.dumps(outputs)
    assert outputs[OUTPUT_BUCKET_URL]["Value"]["Fn::Join"][1][-1] == "/backups"
