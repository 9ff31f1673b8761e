"""The first use of a bucket checks it exists and that --backup-region is its real region."""

import boto3
import pytest
from botocore.stub import Stubber

from cloudbackup.errors import UsageError
from cloudbackup.storage.s3 import S3Storage


def store_answering(status, region_header, code=None):
    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
    stubber = Stubber(client)
    meta = {"HTTPHeaders": {"x-amz-bucket-region": region_header}} if region_header else {"HTTPHeaders": {}}
    if status == 200:
        stubber.add_response("head_bucket", {"ResponseMetadata": {"HTTPStatusCode": 200, **meta}})
    else:
        stubber.add_client_error(
            "head_bucket", service_error_code=code or str(status), http_status_code=status, response_meta=meta
        )
    stubber.activate()
    return S3Storage("bytebase-dev", region="us-east-1", client=client)


@pytest.mark.parametrize(
    ("status", "header", "code"),
    [
        (200, "eu-west-1", None),
        (301, "eu-west-1", "301"),
        (400, "eu-west-1", "400"),
        (403, "eu-west-1", "403"),
    ],
)
def test_another_region_is_named_in_the_error(status, header, code):
    with pytest.raises(
        UsageError, match=r"bytebase-dev is in region eu-west-1, not us-east-1: use --backup-region"
    ):
        store_answering(status, header, code).check_bucket()


def test_a_missing_bucket_is_a_usage_error():
    with pytest.raises(UsageError, match="bytebase-dev does not exist"):
        store_answering(404, None, "404").check_bucket()


@pytest.mark.parametrize(("status", "header"), [(200, "us-east-1"), (403, "us-east-1"), (403, None)])
def test_the_right_region_or_a_prefix_scoped_policy_passes(status, header):
    store = store_answering(status, header, str(status))
    store.check_bucket()
    store.check_bucket()  # checked once: the stub has no second answer
