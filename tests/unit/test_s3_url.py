"""`--backup-bucket` accepts exactly s3://BUCKET[/PREFIX]; everything else shows the expected form."""

import pytest

from cloudbackup.errors import UsageError
from cloudbackup.storage.s3_url import parse_bucket_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("s3://bytebase-dev", ("bytebase-dev", "")),
        ("s3://bytebase-dev/", ("bytebase-dev", "")),
        ("s3://my.bucket-1/backups/prod/", ("my.bucket-1", "backups/prod")),
        ("s3://abc/a/b/c", ("abc", "a/b/c")),
    ],
)
def test_valid_urls_give_bucket_and_prefix(url, expected):
    assert parse_bucket_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "bytebase-dev",  # a bare name
        "https://bytebase-dev.s3.amazonaws.com/x",
        "s3:/bytebase-dev",
        "s3://",
        "s3://Upper-Case",
        "s3://under_score",
        "s3://ab",  # too short
        "s3://" + "a" * 64,  # too long
        "s3://-starts-with-dash",
        "s3://two..dots",
        "s3://192.168.1.10",
        "s3://bucket/a b",  # a space in the prefix
        "s3://bucket/a//b",
        "s3://bucket/../escape",
    ],
)
def test_anything_else_is_a_usage_error_showing_the_form(url):
    with pytest.raises(UsageError) as info:
        parse_bucket_url(url)
    message = str(info.value)
    assert "s3://BUCKET[/PREFIX]" in message
    assert "\n" not in message
