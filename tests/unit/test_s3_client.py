"""The S3 client the store builds: region and endpoint checked, credentials from the file or a profile."""

import pytest

from cloudbackup.errors import UsageError
from cloudbackup.storage.s3_client import s3_client


@pytest.fixture(autouse=True)
def no_real_aws_config(tmp_path, monkeypatch):
    for name in ("config", "credentials"):
        (tmp_path / name).write_text("[profile ops]\nregion = us-east-1\n" if name == "config" else "")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.mark.parametrize("region", ["us-east-1", "eu-central-2", "us-gov-west-1", "ap-southeast-4"])
def test_aws_region_names_are_accepted(region):
    assert s3_client(region).meta.region_name == region


@pytest.mark.parametrize("region", ["", "US-EAST-1", "useast1", "us east 1", "mars"])
def test_other_region_strings_are_usage_errors(region):
    with pytest.raises(UsageError, match="not a region name"):
        s3_client(region)


def test_an_s3_compatible_endpoint_may_use_its_own_region_name_and_is_reached_by_path():
    client = s3_client("minio", endpoint_url="http://127.0.0.1:9000")
    assert client.meta.endpoint_url == "http://127.0.0.1:9000"
    assert client.meta.config.s3["addressing_style"] == "path"


@pytest.mark.parametrize("endpoint", ["127.0.0.1:9000", "ftp://host", "http://"])
def test_a_bad_endpoint_is_a_usage_error(endpoint):
    with pytest.raises(UsageError, match="--backup-endpoint"):
        s3_client("us-east-1", endpoint_url=endpoint)


def test_retries_are_standard_mode_with_total_attempts():
    retries = s3_client("us-east-1", max_attempts=3).meta.config.retries
    assert retries == {"mode": "standard", "total_max_attempts": 3}


def test_a_named_profile_without_a_file_comes_from_the_aws_config():
    assert s3_client("us-east-1", profile="ops").meta.region_name == "us-east-1"
    with pytest.raises(UsageError, match="--backup-profile nope: no such profile"):
        s3_client("us-east-1", profile="nope")


def test_the_credentials_file_keys_sign_the_requests(tmp_path):
    path = tmp_path / "creds"
    path.write_text("[default]\naws_access_key_id = AKIAFILE\naws_secret_access_key = filesecret\n")
    client = s3_client("us-east-1", credential_file=str(path))
    creds = client._request_signer._credentials.get_frozen_credentials()
    assert (creds.access_key, creds.secret_key) == ("AKIAFILE", "filesecret")


def test_the_cli_client_ignores_an_endpoint_of_the_aws_config_file(tmp_path, monkeypatch):
    # Given an AWS config whose default profile sends S3 to a local emulator (set up for another tool)
    (tmp_path / "config").write_text("[default]\nendpoint_url = http://127.0.0.1:9\n")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    # When the command line's client is built without --backup-endpoint
    client = s3_client("us-east-1", configured_endpoint=False)
    # Then it reaches AWS's S3, not the emulator; the functions' client (default) still follows it
    assert client.meta.endpoint_url == "https://s3.amazonaws.com"
    assert s3_client("us-east-1").meta.endpoint_url == "http://127.0.0.1:9"
