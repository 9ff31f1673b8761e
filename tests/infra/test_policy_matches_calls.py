"""The IAM policies grant exactly what the engine calls: recorded during real runs on the local endpoint.

Operator: the CLI backs up (twice), lists, verifies, restores and prunes through S3 with SSE-KMS.
Functions: the backup and restore handlers run in-process against MariaDB and the local endpoint.
Both also push one object big enough for a multipart upload and abort another, the engine's large-
backup and failure paths; the backup function also reads back a write whose answer was lost. Every call
must be allowed by the synthesized policy, under its scope, and the policy must grant nothing the calls
did not need.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parameters import base as parameters_base
from botocore.client import BaseClient

from cloudbackup.cli.main import main
from cloudbackup.dburl import DbSettings
from cloudbackup.storage.base import Storage
from cloudbackup.storage.s3 import S3Storage
from handlers.constants import ENV_SOURCES
from handlers.settings import load_settings
from handlers.store import open_store
from infra.functions import BACKUP_HANDLER, RESTORE_HANDLER
from tests.fixtures.lambda_runtime import Deployment, fill_table
from tests.fixtures.mariadb import db_url
from tests.infra.calls import Call, list_prefixes, object_keys, recorded_calls, required_actions
from tests.infra.conftest import Synth, actions_of, function_of, role_statements

pytestmark = [pytest.mark.integration, pytest.mark.infra]

BIG = 9 * 1024 * 1024  # over the store's 8 MiB part size: two parts


def granted(statements: list[dict[str, Any]]) -> set[str]:
    """The S3, KMS, Secrets Manager and EventBridge actions (logs, X-Ray, ENIs serve the runtime)."""
    return {a for a in actions_of(statements) if a.split(":")[0] in ("s3", "kms", "secretsmanager", "events")}


def object_scope(statements: list[dict[str, Any]]) -> str:
    """`backups/orders-db/*` from the object statement's `<bucket arn>/backups/orders-db/*`."""
    [objects] = [s for s in statements if s.get("Sid") == "BackupObjects"]
    suffix: str = objects["Resource"]["Fn::Join"][1][1]
    return suffix.lstrip("/")


def list_scope(statements: list[dict[str, Any]]) -> list[str]:
    found = [s["Condition"]["StringLike"]["s3:prefix"] for s in statements if s.get("Sid") == "ListBackups"]
    return found[0] if found else []


def large_and_aborted_uploads(store: Storage, folder: str = "orders-db") -> None:
    """The multipart path of a large backup, and the abort of a failed one (under `folder`)."""
    payload = os.urandom(BIG)
    writer = store.open_writer(f"{folder}/policy-check/large.bin")
    writer.write(payload)
    writer.commit()
    writer = store.open_writer(f"{folder}/policy-check/failed.bin")
    writer.write(payload)
    writer.abort()


@contextlib.contextmanager
def first_answer_lost(operation: str) -> Iterator[None]:
    """The first `operation` lands in S3 but its answer is lost: botocore sends it again, as its retry
    does, and the caller gets the second answer (for a conditional write: 412, the key is taken)."""
    original = BaseClient._make_api_call
    lost: list[str] = []

    def lose(self: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
        if operation_name == operation and not lost:
            lost.append(api_params["Key"])
            original(self, operation_name, api_params)
        return original(self, operation_name, api_params)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(BaseClient, "_make_api_call", lose)
        yield
    assert lost, f"no {operation} was made"


def assert_matches(calls: list[Call], statements: list[dict[str, Any]]) -> None:
    needed, allowed = required_actions(calls), granted(statements)
    assert needed - allowed == set(), "calls the policy denies"
    assert allowed - needed == set(), "grants no call needed"
    scope = object_scope(statements)
    assert all(fnmatch.fnmatchcase(k, scope) for k in object_keys(calls)), (scope, object_keys(calls))
    for prefix in list_prefixes(calls):
        assert any(fnmatch.fnmatchcase(prefix, p) for p in list_scope(statements)), prefix


@pytest.fixture
def kms_key(aws_client: Callable[..., Any]) -> str:
    arn: str = aws_client("kms").create_key(Description="cbt policy check")["KeyMetadata"]["Arn"]
    return arn


def test_operator_policy_allows_exactly_the_cli_calls(
    example: Synth,
    moto_endpoint: str,
    s3_bucket: str,
    kms_key: str,
    db_settings: DbSettings,
    make_database: Callable[[str], str],
    tmp_path: Path,
) -> None:
    # Given a database and the operator's view of the deployed bucket (SSE-KMS, prefix `backups`)
    database = make_database("policy")
    fill_table(db_settings, database, "orders", 200)
    storage = ["--backup-bucket", f"s3://{s3_bucket}/backups", "--backup-region", "us-east-1"]
    storage += ["--backup-endpoint", moto_endpoint, "--data", str(tmp_path / "local")]
    url = db_url(db_settings)
    # When the operator runs every command against it (new objects encrypted with the bucket's key)
    with recorded_calls() as calls:
        for _ in range(2):
            backup = ["backup", "--db-url", url, "--database", database, "--source", "orders-db"]
            assert main([*backup, *storage, "--kms-key-id", kms_key]) == 0
        assert main(["list", "--json", *storage]) == 0
        assert main(["verify", "--backup", "latest", "--database", database, *storage]) == 0
        target = f"{database}_r"
        assert main(["restore", "--db-url", url, "--backup", "latest", "--database", database,
                     "--target-database", target, *storage]) == 0  # fmt: skip
        assert main(["prune", "--keep-last", "1", "--database", database, *storage]) == 0
        store = S3Storage(
            s3_bucket, "backups", region="us-east-1", endpoint_url=moto_endpoint, kms_key_id=kms_key
        )
        large_and_aborted_uploads(store)
    # Then the operator policy allows each call, within the prefix, and nothing more
    [policy] = example.resources("AWS::IAM::ManagedPolicy").values()
    assert {c.operation for c in calls} >= {
        "PutObject",
        "ListObjectsV2",
        "GetObject",
        "DeleteObject",
        "UploadPart",
    }
    assert_matches(calls, policy["Properties"]["PolicyDocument"]["Statement"])


def test_function_roles_allow_exactly_the_handlers_calls(
    example: Synth,
    deployment: Deployment,
    kms_key: str,
    db_settings: DbSettings,
    make_database: Callable[[str], str],
) -> None:
    # Given the functions deployed for source orders-db, writing with the bucket's KMS key
    database = make_database("policy")
    fill_table(db_settings, database, "orders", 200)
    env = {"CLOUDBACKUP_KMS_KEY_ID": kms_key}
    # When the schedule runs the backup function (and its store takes a large and a failed upload), and
    # the answer to its first PutObject is lost on the way back (the store reads the key back)
    with first_answer_lost("PutObject"), recorded_calls() as backup_calls:
        result = deployment.backup({"source": deployment.source, "databases": [database]}, **env)
        assert result["databases"][0]["status"] == "succeeded"
        settings = load_settings({**deployment.environment(**env), "AWS_REGION": "us-east-1"})
        large_and_aborted_uploads(open_store(settings))
    # And an operator restores the latest backup into a new database through the restore function
    # (its own process in Lambda: nothing cached from the backup function)
    parameters_base.DEFAULT_PROVIDERS.clear()
    with recorded_calls() as restore_calls:
        summary = deployment.restore(
            {
                "source": deployment.source,
                "database": database,
                "backup": "latest",
                "target_database": f"{database}_r",
            }
        )
        assert summary["target_database"] == f"{database}_r"
    # Then each role allows exactly its function's calls, within its source's prefix
    for handler, calls in ((BACKUP_HANDLER, backup_calls), (RESTORE_HANDLER, restore_calls)):
        _, function = function_of(example, deployment.source, handler)
        statements = role_statements(example, function["Properties"]["Role"]["Fn::GetAtt"][0])
        assert_matches(calls, statements)


def test_the_restore_role_of_a_source_with_a_drill_allows_exactly_the_drills_calls(
    full: Synth,
    deployment: Deployment,
    kms_key: str,
    db_settings: DbSettings,
    make_database: Callable[[str], str],
) -> None:
    # Given a backup of orders-db, whose deployment (the `full` config) has a weekly drill
    database = make_database("pdrill")
    fill_table(db_settings, database, "orders", 200)
    env = {"CLOUDBACKUP_KMS_KEY_ID": kms_key}
    deployment.backup({"source": deployment.source, "databases": [database]}, **env)
    sources = {deployment.source: {"secret_arn": deployment.secret_arn, "databases": "*", "drill": True}}
    env[ENV_SOURCES] = json.dumps(sources)
    # When its schedule runs a drill through the restore function
    parameters_base.DEFAULT_PROVIDERS.clear()
    with recorded_calls() as calls:
        summary = deployment.restore(
            {"source": deployment.source, "database": database, "drill": True}, **env
        )
        assert summary["verified"] is True
    # Then the restore role allows exactly the drill's calls (reads, the secret, the result event)
    _, function = function_of(full, deployment.source, RESTORE_HANDLER)
    assert_matches(calls, role_statements(full, function["Properties"]["Role"]["Fn::GetAtt"][0]))
