"""`--backup-credential FILE [--backup-profile NAME]`: the profile's keys, or one clear usage error."""

import os

import pytest

from cloudbackup.cli.cmd_credentials import render_credentials, write_private_file
from cloudbackup.errors import UsageError
from cloudbackup.storage.credentials import (
    CredentialSource,
    read_credentials_file,
)

SECRET = "s3cr3t/NEVER+shown"


@pytest.fixture
def creds_file(tmp_path):
    path = tmp_path / "credentials"
    path.write_text(
        "[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = " + SECRET + "\n\n"
        "[ops]\naws_access_key_id=AKIAOPS\naws_secret_access_key=opssecret\naws_session_token=tok\n\n"
        "[half]\naws_access_key_id = AKIAHALF\n"
    )
    return str(path)


def test_the_default_profile_is_read(creds_file):
    creds = read_credentials_file(creds_file)
    assert (creds.access_key_id, creds.secret_access_key, creds.session_token) == (
        "AKIADEFAULT",
        SECRET,
        None,
    )


def test_a_named_profile_with_a_session_token(creds_file):
    creds = read_credentials_file(creds_file, "ops")
    assert (creds.access_key_id, creds.secret_access_key, creds.session_token) == (
        "AKIAOPS",
        "opssecret",
        "tok",
    )


def test_a_missing_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        read_credentials_file(str(tmp_path / "nope"))


def test_a_directory_is_said_to_be_one_not_to_be_missing(tmp_path):
    # (`--backup-credential ~/.aws` for `~/.aws/credentials`: "does not exist" sent the operator looking
    # for a directory that is right there)
    with pytest.raises(UsageError, match=r"^--backup-credential \S+ is a directory, not a credentials file$"):
        read_credentials_file(str(tmp_path))


def test_a_missing_profile_names_the_profiles_found(creds_file):
    with pytest.raises(UsageError, match=r"no profile \[prod\].*default, half, ops"):
        read_credentials_file(creds_file, "prod")


def test_a_profile_without_both_keys_is_a_usage_error(creds_file):
    with pytest.raises(UsageError, match="lacks aws_secret_access_key"):
        read_credentials_file(creds_file, "half")


def test_a_file_that_is_not_ini_is_a_usage_error(tmp_path):
    path = tmp_path / "garbage"
    path.write_text("aws_access_key_id = x\n")  # no section header
    with pytest.raises(UsageError, match="not an AWS credentials file"):
        read_credentials_file(str(path))


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_is_a_usage_error(creds_file):
    os.chmod(creds_file, 0)
    with pytest.raises(UsageError, match="not readable"):
        read_credentials_file(creds_file)


def test_no_error_and_no_repr_shows_the_secret(creds_file):
    creds = read_credentials_file(creds_file)
    assert SECRET not in repr(creds)
    with pytest.raises(UsageError) as info:
        read_credentials_file(creds_file, "prod")
    assert SECRET not in str(info.value)


def test_the_file_cloudbackup_credentials_writes_is_read_back(tmp_path):
    # The `credentials` command and --backup-credential agree on the format.
    path = tmp_path / "out"
    write_private_file(path, render_credentials("AKIAW", SECRET), force=False)
    creds = read_credentials_file(str(path))
    assert (creds.access_key_id, creds.secret_access_key, creds.session_token) == ("AKIAW", SECRET, None)


def test_the_source_description_names_file_and_profile_only():
    assert CredentialSource("/x/creds", None).describe() == "credentials file /x/creds [profile default]"
    assert CredentialSource("/x/creds", "ops").describe() == "credentials file /x/creds [profile ops]"
    assert CredentialSource().describe() == "default AWS credential chain"


def test_a_file_saved_with_a_byte_order_mark_is_refused_saying_so(tmp_path):
    # Given a credentials file saved by an editor that writes a UTF-8 byte order mark (Notepad)
    path = tmp_path / "credentials"
    path.write_bytes(
        b"\xef\xbb\xbf[default]\naws_access_key_id = AKIAX\naws_secret_access_key = " + b"x" * 40
    )
    # When it is read, Then the one-line refusal names the mark, which no text editor shows
    with pytest.raises(UsageError, match="byte order mark") as raised:
        read_credentials_file(str(path))
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("quote", ['"', "'"])
def test_keys_written_in_quotes_are_refused_rather_than_sent_with_their_quotes(tmp_path, quote):
    # Given keys pasted with quotes around them (as in a .env file); the INI format keeps quotes
    path = tmp_path / "credentials"
    path.write_text(
        f"[default]\naws_access_key_id = {quote}AKIAX{quote}\n"
        f"aws_secret_access_key = {quote}{SECRET}{quote}\n"
    )
    # When it is read, Then it is refused naming the key and the quotes, never showing the secret,
    # rather than S3 answering "invalid access key" for a key that looks right
    with pytest.raises(UsageError, match="quotes") as raised:
        read_credentials_file(str(path))
    assert "aws_access_key_id" in str(raised.value)
    assert SECRET not in str(raised.value)
