"""The backup bucket and its key, as synthesized."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match

from tests.infra.conftest import IMPORTED_KEY, Synth, example_config, synthesize

pytestmark = pytest.mark.infra


def backup_bucket(synth: Synth) -> tuple[str, dict[str, Any]]:
    buckets = synth.resources("AWS::S3::Bucket")
    [(logical_id, bucket)] = [(k, v) for k, v in buckets.items() if "LoggingConfiguration" in v["Properties"]]
    return logical_id, bucket


def backup_key(synth: Synth) -> str:
    [key] = [
        k for k, v in synth.resources("AWS::KMS::Key").items() if "backups" in v["Properties"]["Description"]
    ]
    return key


def test_bucket_is_versioned_private_and_kms_encrypted_with_a_bucket_key(example: Synth) -> None:
    # Given the example config / When synthesized
    _, bucket = backup_bucket(example)
    props = bucket["Properties"]
    # Then
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    [rule] = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["BucketKeyEnabled"] is True
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == {
        "Fn::GetAtt": [backup_key(example), "Arn"]
    }
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert bucket["DeletionPolicy"] == "Retain"
    assert bucket["UpdateReplacePolicy"] == "Retain"


def test_customer_key_rotates_and_outlives_the_stack(example: Synth) -> None:
    example.template.has_resource(
        "AWS::KMS::Key",
        {
            "Properties": Match.object_like(
                {"EnableKeyRotation": True, "Description": Match.string_like_regexp("backups")}
            ),
            "DeletionPolicy": "Retain",
        },
    )


def test_bucket_policy_denies_plain_http(example: Synth) -> None:
    logical_id, _ = backup_bucket(example)
    policies = [
        p
        for p in example.resources("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": logical_id}
    ]
    [policy] = policies
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert {
        "Action": "s3:*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
    }.items() <= statements[0].items()


def test_lifecycle_aborts_uploads_and_expires_noncurrent_versions(example: Synth) -> None:
    _, bucket = backup_bucket(example)
    [rule] = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled"
    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": example.config.retention.noncurrent_days}
    assert "Transitions" not in rule  # no archive tier in the example


def test_object_lock_governance_is_the_default(example: Synth) -> None:
    _, bucket = backup_bucket(example)
    assert bucket["Properties"]["ObjectLockEnabled"] is True
    assert bucket["Properties"]["ObjectLockConfiguration"] == {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 14}},
    }


def test_object_lock_switched_off_leaves_the_bucket_without_it(tmp_path: Path) -> None:
    raw = example_config()
    raw["retention"]["object_lock"] = {"enabled": False}
    synth = synthesize(raw, tmp_path)
    _, bucket = backup_bucket(synth)
    assert "ObjectLockEnabled" not in bucket["Properties"]
    assert "ObjectLockConfiguration" not in bucket["Properties"]
    assert synth.error is None  # cdk-nag stays clean without the lock too


def bucket_policy_statements(synth: Synth) -> list[dict[str, Any]]:
    logical_id, _ = backup_bucket(synth)
    [policy] = [
        p
        for p in synth.resources("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": logical_id}
    ]
    statements: list[dict[str, Any]] = policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def test_bucket_policy_denies_writes_that_could_overwrite(example: Synth) -> None:
    # Every object-creating write (PutObject, CompleteMultipartUpload, CopyObject) without If-None-Match is
    # denied to everyone; the multipart steps that cannot carry the header are not.
    logical_id, _ = backup_bucket(example)
    [deny] = [s for s in bucket_policy_statements(example) if s.get("Sid") == "DenyOverwrites"]
    assert deny["Effect"] == "Deny"
    assert deny["Principal"] == {"AWS": "*"}
    assert deny["Action"] == "s3:PutObject"
    assert deny["Resource"] == {"Fn::Join": ["", [{"Fn::GetAtt": [logical_id, "Arn"]}, "/*"]]}
    assert deny["Condition"] == {
        "Null": {"s3:if-none-match": "true"},
        "Bool": {"s3:ObjectCreationOperation": "true"},
    }


def test_bucket_sends_its_events_to_eventbridge_without_a_custom_resource(example: Synth) -> None:
    _, bucket = backup_bucket(example)
    assert bucket["Properties"]["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }
    assert not example.resources("Custom::S3BucketNotifications")


def test_archive_tier_and_object_lock_when_configured(full: Synth) -> None:
    _, bucket = backup_bucket(full)
    props = bucket["Properties"]
    [rule] = props["LifecycleConfiguration"]["Rules"]
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 45}
    assert rule["Transitions"] == [{"StorageClass": "GLACIER_IR", "TransitionInDays": 60}]
    assert props["ObjectLockEnabled"] is True
    assert props["ObjectLockConfiguration"] == {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 10}},
    }


def test_server_access_logs_go_to_a_private_log_bucket(example: Synth) -> None:
    _, bucket = backup_bucket(example)
    logging = bucket["Properties"]["LoggingConfiguration"]
    log_bucket_id = logging["DestinationBucketName"]["Ref"]
    log_bucket = example.json["Resources"][log_bucket_id]
    props = log_bucket["Properties"]
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"
    ] == {
        "SSEAlgorithm": "AES256"  # log delivery supports SSE-S3 only
    }
    assert props["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True
    assert log_bucket["DeletionPolicy"] == "Retain"
    [rule] = props["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == example.config.retention.access_log_days


def test_imported_key_encrypts_the_bucket_and_no_key_is_created(synth_variant: Any) -> None:
    synth = synth_variant("imported_key")
    _, bucket = backup_bucket(synth)
    default = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert default["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == IMPORTED_KEY
    keys = synth.resources("AWS::KMS::Key")
    assert all("alarm" in k["Properties"]["Description"] for k in keys.values())  # only the topic's key
