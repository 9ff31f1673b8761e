"""Record the AWS calls code really makes, and the IAM actions they need.

Every botocore client call in the block is recorded (service, operation, parameters), including
those of clients the code under test builds itself (Powertools, the S3 store's worker threads).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.client import BaseClient


@dataclass(frozen=True)
class Call:
    service: str
    operation: str
    params: dict[str, Any]


@contextlib.contextmanager
def recorded_calls() -> Iterator[list[Call]]:
    calls: list[Call] = []
    original = BaseClient._make_api_call

    def record(self: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
        calls.append(Call(self.meta.service_model.service_name, operation_name, dict(api_params)))
        return original(self, operation_name, api_params)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(BaseClient, "_make_api_call", record)
        yield calls


# Operation -> the IAM actions it needs on a bucket with SSE-KMS by default (S3 calls KMS for the caller).
REQUIRED: dict[tuple[str, str], tuple[str, ...]] = {
    ("s3", "PutObject"): ("s3:PutObject", "kms:GenerateDataKey"),
    ("s3", "CreateMultipartUpload"): ("s3:PutObject", "kms:GenerateDataKey"),
    ("s3", "UploadPart"): ("s3:PutObject", "kms:GenerateDataKey"),
    ("s3", "CompleteMultipartUpload"): ("s3:PutObject", "kms:Decrypt"),
    ("s3", "AbortMultipartUpload"): ("s3:AbortMultipartUpload",),
    ("s3", "GetObject"): ("s3:GetObject", "kms:Decrypt"),
    ("s3", "HeadObject"): ("s3:GetObject",),
    ("s3", "ListObjectsV2"): ("s3:ListBucket",),
    ("s3", "DeleteObject"): ("s3:DeleteObject",),
    ("secretsmanager", "GetSecretValue"): ("secretsmanager:GetSecretValue",),
    ("events", "PutEvents"): ("events:PutEvents",),
}
# Bucket-level reads the engine makes and treats a denial of as "unknown": deliberately not granted.
TOLERATED_DENIALS = {
    ("s3", "HeadBucket"),
    ("s3", "GetBucketVersioning"),
    ("s3", "GetObjectLockConfiguration"),
}


def required_actions(calls: Iterable[Call]) -> set[str]:
    needed: set[str] = set()
    for call in calls:
        key = (call.service, call.operation)
        if key in TOLERATED_DENIALS:
            continue
        assert key in REQUIRED, f"unmapped AWS call {key}: add the IAM actions it needs"
        needed.update(REQUIRED[key])
    return needed


def object_keys(calls: Iterable[Call]) -> set[str]:
    return {c.params["Key"] for c in calls if c.service == "s3" and "Key" in c.params}


def list_prefixes(calls: Iterable[Call]) -> set[str]:
    return {c.params.get("Prefix", "") for c in calls if (c.service, c.operation) == ("s3", "ListObjectsV2")}
