"""AWS credentials for the S3 store: a shared credentials file (`--backup-credential`), or the chain.

The file is read with botocore's own INI loader; only the chosen profile is used, and a file that lacks
it never falls back silently to other credentials (environment, instance role).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import botocore.configloader
import botocore.exceptions

from cloudbackup.errors import UsageError

DEFAULT_PROFILE = "default"
DEFAULT_CHAIN = "default AWS credential chain"


@dataclass(frozen=True)
class StaticCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def __repr__(self) -> str:  # never print the secret, not even in a debugger or a log
        return f"StaticCredentials(access_key_id={self.access_key_id!r}, secret_access_key=***)"


@dataclass(frozen=True)
class CredentialSource:
    """Where the credentials come from: what error messages name (never a secret)."""

    file: str | None = None
    profile: str | None = None

    def describe(self) -> str:
        if self.file is not None:
            return f"credentials file {self.file} [profile {self.profile or DEFAULT_PROFILE}]"
        if self.profile is not None:
            return f"AWS profile {self.profile}"
        return DEFAULT_CHAIN


def read_credentials_file(path: str, profile: str | None = None) -> StaticCredentials:
    """The access key of `profile` (default: `[default]`) in an AWS shared credentials file."""
    profile = profile or DEFAULT_PROFILE
    shown = os.path.expanduser(path)
    if os.path.isdir(shown):  # botocore would call it missing
        raise UsageError(f"--backup-credential {shown} is a directory, not a credentials file")
    if os.path.isfile(shown) and not os.access(shown, os.R_OK):
        raise UsageError(f"--backup-credential {shown} is not readable")
    if _starts_with_byte_order_mark(shown):  # botocore would call it no INI file, which it looks like
        raise UsageError(
            f"--backup-credential {shown} begins with a UTF-8 byte order mark (saved by a Windows editor?), "
            "which AWS tools do not read: save it as UTF-8 without one"
        )
    try:
        sections = botocore.configloader.raw_config_parse(path, parse_subsections=False)
    except botocore.exceptions.ConfigNotFound:
        raise UsageError(f"--backup-credential {shown} does not exist") from None
    except botocore.exceptions.ConfigParseError:
        raise UsageError(
            f"--backup-credential {shown} is not an AWS credentials file (expected [default] with "
            "aws_access_key_id and aws_secret_access_key)"
        ) from None
    if profile not in sections:
        found = ", ".join(sorted(sections)) or "none"
        raise UsageError(f"--backup-credential {shown} has no profile [{profile}] (profiles found: {found})")
    values = sections[profile]
    missing = [k for k in ("aws_access_key_id", "aws_secret_access_key") if not values.get(k, "").strip()]
    if missing:
        raise UsageError(f"--backup-credential {shown} [{profile}] lacks {' and '.join(missing)}")
    for key in ("aws_access_key_id", "aws_secret_access_key", "aws_session_token"):
        value = values.get(key, "").strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            # INI keeps quotes as part of the value: S3 would answer "invalid key" for a key that looks right
            raise UsageError(
                f"--backup-credential {shown} [{profile}] has {key} in quotes: write it without them"
            )
    token = values.get("aws_session_token", "").strip() or None
    return StaticCredentials(
        access_key_id=values["aws_access_key_id"].strip(),
        secret_access_key=values["aws_secret_access_key"].strip(),
        session_token=token,
    )


def _starts_with_byte_order_mark(path: str) -> bool:
    try:
        with open(path, "rb") as file:
            return file.read(3) == b"\xef\xbb\xbf"
    except OSError:  # missing or unreadable: said by the reading below
        return False
