"""S3 failures become one line naming bucket, region and credentials; permanent ones are usage errors."""

import botocore.exceptions
import pytest

from cloudbackup.errors import OperationError, UsageError
from cloudbackup.storage.s3_errors import S3Target, s3_failure
from cloudbackup.storage.s3_upload import MAX_PART_SIZE, MIN_PART_SIZE, part_size_for

TARGET = S3Target("bytebase-dev", "us-east-1", "credentials file /home/op/.aws/credentials [profile default]")


def client_error(code, status, headers=None, message="boom"):
    response = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": headers or {}},
    }
    return botocore.exceptions.ClientError(response, "PutObject")


@pytest.mark.parametrize(
    ("code", "status", "kind", "phrase"),
    [
        ("NoSuchBucket", 404, UsageError, "does not exist"),
        ("AccessDenied", 403, UsageError, "access denied"),
        ("InvalidAccessKeyId", 403, UsageError, "rejected the credentials"),
        ("SignatureDoesNotMatch", 403, UsageError, "rejected the credentials"),
        ("PermanentRedirect", 301, UsageError, "is in region eu-west-1, not us-east-1"),
        ("AuthorizationHeaderMalformed", 400, UsageError, "is in region eu-west-1"),
        ("NoSuchKey", 404, OperationError, "does not exist"),
        ("InternalError", 500, OperationError, "InternalError"),
    ],
)
def test_client_errors_map_to_one_line_with_context(code, status, kind, phrase):
    exc = client_error(code, status, {"x-amz-bucket-region": "eu-west-1"})
    failure = s3_failure(exc, TARGET, "upload", "s3://bytebase-dev/k")
    assert type(failure) is kind
    text = str(failure)
    assert phrase in text
    assert "bucket bytebase-dev, region us-east-1" in text
    assert "/home/op/.aws/credentials [profile default]" in text
    assert "\n" not in text


def test_no_credentials_says_how_to_give_them():
    failure = s3_failure(botocore.exceptions.NoCredentialsError(), TARGET, "list")
    assert isinstance(failure, UsageError)
    assert "--backup-credential FILE" in str(failure)


def test_retries_exhausted_on_the_network_is_a_failed_operation():
    exc = botocore.exceptions.ReadTimeoutError(endpoint_url="http://127.0.0.1:1")
    failure = s3_failure(exc, TARGET, "upload", "s3://bytebase-dev/k")
    assert isinstance(failure, OperationError)
    assert "after retries" in str(failure)


def test_part_sizes_start_at_8_mib_and_double_every_thousand_parts():
    assert part_size_for(1) == MIN_PART_SIZE == 8 * 1024 * 1024
    assert part_size_for(1000) == MIN_PART_SIZE
    assert part_size_for(1001) == 2 * MIN_PART_SIZE
    assert part_size_for(10_000) == min(MIN_PART_SIZE << 9, MAX_PART_SIZE)
    # 10,000 parts hold far more than any database we would stream.
    assert sum(part_size_for(n) for n in range(1, 10_001)) > 5 * 1024**4


@pytest.mark.parametrize(
    ("code", "status", "message", "phrase"),
    [
        ("PreconditionFailed", 412, "At least one of the pre-conditions did not hold", "already exists"),
        ("ConditionalRequestConflict", 409, "conflicting operation in progress", "already exists"),
        ("AccessDenied", 403, "Access Denied because object protected by object lock.", "Object Lock"),
    ],
)
def test_a_refused_overwrite_or_a_locked_delete_is_a_failed_operation(code, status, message, phrase):
    failure = s3_failure(client_error(code, status, message=message), TARGET, "delete", "s3://bytebase-dev/k")
    assert isinstance(
        failure, OperationError
    )  # (a refused write: ObjectExists, which a racing writer tells apart)
    assert failure.exit_code == 1
    assert phrase in str(failure)
    assert "\n" not in str(failure)
