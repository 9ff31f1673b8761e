"""The local AWS endpoint every storage and infra test relies on: real HTTP, every service we use."""

import os

import pytest

from tests.fixtures.aws import REGION, TEST_ACCESS_KEY_ID


def test_the_session_uses_test_credentials_and_never_a_real_aws_config(moto_endpoint):
    assert moto_endpoint.startswith("http://127.0.0.1:")
    assert os.environ["AWS_ACCESS_KEY_ID"] == TEST_ACCESS_KEY_ID
    assert os.environ["AWS_DEFAULT_REGION"] == REGION
    for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        assert os.path.getsize(os.environ[name]) == 0
    assert "AWS_PROFILE" not in os.environ


def test_a_fresh_bucket_is_versioned_and_empty(aws_client, s3_bucket):
    s3 = aws_client("s3")
    assert s3.get_bucket_versioning(Bucket=s3_bucket)["Status"] == "Enabled"
    assert s3.list_objects_v2(Bucket=s3_bucket)["KeyCount"] == 0
    s3.put_object(Bucket=s3_bucket, Key="a", Body=b"1")
    s3.put_object(Bucket=s3_bucket, Key="a", Body=b"2")
    versions = s3.list_object_versions(Bucket=s3_bucket)["Versions"]
    assert len(versions) == 2


def test_each_bucket_is_new(aws_client, s3_bucket):
    # Buckets from earlier tests are gone or different: this one holds nothing.
    assert aws_client("s3").list_objects_v2(Bucket=s3_bucket)["KeyCount"] == 0


@pytest.mark.parametrize(
    ("service", "call", "key"),
    [
        ("s3", "list_buckets", "Buckets"),
        ("secretsmanager", "list_secrets", "SecretList"),
        ("events", "list_event_buses", "EventBuses"),
        ("cloudformation", "list_stacks", "StackSummaries"),
        ("iam", "list_users", "Users"),
        ("kms", "list_keys", "Keys"),
        ("sts", "get_caller_identity", "Account"),
        ("lambda", "list_functions", "Functions"),
        ("cloudwatch", "describe_alarms", "MetricAlarms"),
        ("sqs", "list_queues", "ResponseMetadata"),
    ],
)
def test_every_service_we_use_answers_over_http(aws_client, service, call, key):
    response = getattr(aws_client(service), call)()
    assert key in response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_secrets_and_kms_round_trip(aws_client):
    sm = aws_client("secretsmanager")
    arn = sm.create_secret(Name="cbt-smoke-secret", SecretString='{"k": "v"}')["ARN"]
    assert sm.get_secret_value(SecretId=arn)["SecretString"] == '{"k": "v"}'
    kms = aws_client("kms")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"
