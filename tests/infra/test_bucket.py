"""The backup bucket and its key, as synthesized."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match

from tests.infra.conftest import IMPORTED_KEY, Synth

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
    assert "ObjectLockEnabled" not in bucket["Properties"]


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
