"""The per-source backup and restore functions: runtime, settings, roles, network, logs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from handlers import constants as c
from handlers.settings import SourceConfig, load_settings
from infra.bundling import build_lambda_asset
from infra.functions import BACKUP_HANDLER, BINLOG_HANDLER, RESTORE_HANDLER, asset_ca_files
from tests.infra.conftest import (
    NETWORK,
    RESTORE_SECRET,
    SECOND_SECRET,
    TEST_CA,
    Synth,
    actions_of,
    function_of,
    role_statements,
)

pytestmark = pytest.mark.infra

HANDLERS = [BACKUP_HANDLER, RESTORE_HANDLER]


def role_id(function: dict[str, Any]) -> str:
    role: str = function["Properties"]["Role"]["Fn::GetAtt"][0]
    return role


def statement(statements: list[dict[str, Any]], sid: str) -> dict[str, Any]:
    [found] = [s for s in statements if s.get("Sid") == sid]
    return found


@pytest.mark.parametrize("handler", HANDLERS)
def test_function_runs_python_on_arm64_with_tracing_and_the_configured_size(
    example: Synth, handler: str
) -> None:
    _, function = function_of(example, "orders-db", handler)
    props = function["Properties"]
    assert props["Runtime"] == "python3.12"
    assert props["Architectures"] == ["arm64"]
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["MemorySize"] == example.config.functions.memory_mb
    assert props["Timeout"] == example.config.functions.timeout_seconds
    assert "VpcConfig" not in props


@pytest.mark.parametrize("handler", HANDLERS)
def test_environment_is_what_the_handlers_settings_accept(example: Synth, handler: str) -> None:
    # Given the environment as the template sets it, with CloudFormation's values filled in
    _, function = function_of(example, "orders-db", handler)
    variables = function["Properties"]["Environment"]["Variables"]
    resolved = {
        name: value if isinstance(value, str) else "cbt-bucket" if "Ref" in value else "arn:aws:kms:key/1"
        for name, value in variables.items()
    }
    # When the handlers read it at cold start
    settings = load_settings({**resolved, c.ENV_REGION: "eu-central-1"})
    # Then it names the bucket, key, prefix, bus and exactly this source
    assert variables[c.ENV_BUCKET] == {"Ref": _backup_bucket_id(example)}
    assert settings.prefix == "backups"
    assert settings.event_bus == "default"
    source = settings.source("orders-db")
    assert list(settings.sources) == ["orders-db"]
    assert source.secret_arn == example.config.sources[0].secret_arn
    assert source.databases == ["shop"]
    assert source.allows_restore_into("shop_restored")
    assert not source.allows_restore_into("shop")
    assert variables[c.ENV_SERVICE] == c.DEFAULT_SERVICE
    assert variables[c.ENV_NAMESPACE] == c.DEFAULT_NAMESPACE
    assert variables["LOG_LEVEL"] == "INFO"


def _backup_bucket_id(synth: Synth) -> str:
    [bucket_id] = [
        k for k, v in synth.resources("AWS::S3::Bucket").items() if "LoggingConfiguration" in v["Properties"]
    ]
    return bucket_id


def test_backup_role_writes_its_source_only_and_cannot_delete_or_list(example: Synth) -> None:
    _, function = function_of(example, "orders-db", BACKUP_HANDLER)
    statements = role_statements(example, role_id(function))
    objects = statement(statements, "BackupObjects")
    # (s3:GetObject: the read-back of a write whose answer was lost, test_policy_matches_calls.py)
    assert sorted(objects["Action"]) == ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"]
    assert objects["Resource"]["Fn::Join"][1][1] == "/backups/orders-db/*"
    assert sorted(statement(statements, "BackupKey")["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    actions = actions_of(statements)
    assert not {"s3:DeleteObject", "s3:DeleteObjectVersion", "s3:ListBucket"} & actions
    assert "events:PutEvents" in actions


def test_restore_role_reads_and_lists_and_cannot_write_to_the_bucket(example: Synth) -> None:
    _, function = function_of(example, "orders-db", RESTORE_HANDLER)
    statements = role_statements(example, role_id(function))
    assert statement(statements, "BackupObjects")["Action"] == "s3:GetObject"
    assert statement(statements, "ListBackups")["Condition"] == {
        "StringLike": {"s3:prefix": ["backups/orders-db/*"]}
    }
    assert statement(statements, "BackupKey")["Action"] == "kms:Decrypt"
    actions = actions_of(statements)
    assert not {a for a in actions if a.startswith("s3:") and a not in ("s3:GetObject", "s3:ListBucket")}
    assert "events:PutEvents" not in actions


@pytest.mark.parametrize("handler", HANDLERS)
def test_each_function_reads_exactly_its_sources_secret(full: Synth, handler: str) -> None:
    for source in full.config.sources:
        _, function = function_of(full, source.name, handler)
        statements = role_statements(full, role_id(function))
        secret = statement(statements, "ReadDatabaseSecret")
        assert secret["Action"] == "secretsmanager:GetSecretValue"
        expected = [source.secret_for("restore" if handler == RESTORE_HANDLER else "backup")]
        if source.drill and handler == RESTORE_HANDLER:
            expected.append(source.drill.secret_arn or source.secret_arn)
        expected = list(dict.fromkeys(expected))
        assert secret["Resource"] == (expected[0] if len(expected) == 1 else expected)
        secret_reads = [s for s in statements if "secretsmanager" in json.dumps(s["Action"])]
        assert secret_reads == [secret]


def test_secret_encrypted_with_a_customer_key_may_be_decrypted_via_secrets_manager(full: Synth) -> None:
    _, function = function_of(full, "billing-db", BACKUP_HANDLER)
    decrypt = statement(role_statements(full, role_id(function)), "DecryptDatabaseSecret")
    assert decrypt["Action"] == "kms:Decrypt"
    assert decrypt["Condition"] == {
        "StringEquals": {"kms:ViaService": "secretsmanager.eu-central-1.amazonaws.com"}
    }
    assert SECOND_SECRET.split(":")[3] == "eu-central-1"


@pytest.mark.parametrize("handler", HANDLERS)
def test_vpc_placement_from_ids_with_network_interface_rights(full: Synth, handler: str) -> None:
    _, function = function_of(full, "billing-db", handler)
    assert function["Properties"]["VpcConfig"] == {
        "SubnetIds": NETWORK["subnet_ids"],
        "SecurityGroupIds": NETWORK["security_group_ids"],
    }
    assert "ec2:CreateNetworkInterface" in actions_of(role_statements(full, role_id(function)))
    _, outside = function_of(full, "orders-db", handler)
    assert "ec2:CreateNetworkInterface" not in actions_of(role_statements(full, role_id(outside)))


def test_log_groups_keep_logs_for_the_configured_days(full: Synth) -> None:
    groups = full.resources("AWS::Logs::LogGroup")
    functions = {
        k: v
        for k, v in full.resources("AWS::Lambda::Function").items()
        if v["Properties"].get("Handler") in [*HANDLERS, BINLOG_HANDLER]
    }
    assert len(groups) == len(functions) == 5  # backup and restore per source, binlog for the pitr one
    for function in functions.values():
        group_id = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert groups[group_id]["Properties"]["RetentionInDays"] == 90
        assert function["Properties"]["Environment"]["Variables"]["LOG_LEVEL"] == "DEBUG"
        assert function["Properties"]["MemorySize"] == 2048


@pytest.mark.parametrize("handler", HANDLERS)
def test_a_sources_tls_and_restore_secret_reach_the_functions_settings(full: Synth, handler: str) -> None:
    _, function = function_of(full, "billing-db", handler)
    variables = function["Properties"]["Environment"]["Variables"]
    source = SourceConfig.model_validate(json.loads(variables[c.ENV_SOURCES])["billing-db"])
    assert source.ssl_mode == "VERIFY_IDENTITY"
    assert source.ssl_ca == f"{c.ASSET_CA_DIR}/billing-db.pem"
    assert source.restore_secret == RESTORE_SECRET
    # the source without TLS options leaves them to the secret (and the defaults)
    _, other = function_of(full, "orders-db", handler)
    plain = json.loads(other["Properties"]["Environment"]["Variables"][c.ENV_SOURCES])["orders-db"]
    assert not {"ssl_mode", "ssl_ca", "restore_secret_arn"} & set(plain)


def test_the_asset_ships_the_configured_ca_file(full: Synth) -> None:
    asset = build_lambda_asset(extra_files=asset_ca_files(full.config.sources))
    assert (asset / c.ASSET_CA_DIR / "billing-db.pem").read_bytes() == TEST_CA.read_bytes()
    assert not (asset / c.ASSET_CA_DIR / "orders-db.pem").exists()
    # and the synthesized functions use that very asset (the template names it by its path)
    _, function = function_of(full, "billing-db", BACKUP_HANDLER)
    [manifest] = full.outdir.glob("*.assets.json")
    files = json.loads(manifest.read_text())["files"]
    key = function["Properties"]["Code"]["S3Key"]
    assert files[key.removesuffix(".zip")]["source"]["path"] == str(asset)


def test_the_restore_role_reads_only_the_restore_secret(full: Synth) -> None:
    _, restore = function_of(full, "billing-db", RESTORE_HANDLER)
    _, backup = function_of(full, "billing-db", BACKUP_HANDLER)
    restore_reads = json.dumps(role_statements(full, role_id(restore)))
    backup_reads = json.dumps(role_statements(full, role_id(backup)))
    assert RESTORE_SECRET in restore_reads
    assert SECOND_SECRET not in restore_reads
    assert RESTORE_SECRET not in backup_reads
