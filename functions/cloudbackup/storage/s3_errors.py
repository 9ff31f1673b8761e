"""S3 failures as one line for the operator: which bucket, region and credentials (never the secret).

Permanent problems (no such bucket, access denied, rejected key, wrong region) are usage errors: the
flags or the policy must change. What is left after botocore's retries is a failed operation.
"""

from __future__ import annotations

from dataclasses import dataclass

import botocore.exceptions

from cloudbackup.errors import CloudBackupError, ObjectExists, OperationError, UsageError

_CREDENTIAL_CODES = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
    "ExpiredToken",
    "TokenRefreshRequired",
    "InvalidClientTokenId",
}
_DENIED_CODES = {"AccessDenied", "AllAccessDisabled", "AccountProblem", "403", "Forbidden"}
_REGION_CODES = {
    "PermanentRedirect",
    "AuthorizationHeaderMalformed",
    "IllegalLocationConstraintException",
    "Redirect",
    "301",
}
# If-None-Match: * failed: the key exists (412), or another conditional write to it was in flight (409).
_EXISTS_CODES = {"PreconditionFailed", "412", "ConditionalRequestConflict"}
_MISSING_KEY_CODES = {"NoSuchKey", "404", "NotFound"}
_KMS_CODES = {"KMS.NotFoundException", "KMS.DisabledException", "KMS.KMSInvalidStateException"}


@dataclass(frozen=True)
class S3Target:
    """What an S3 error message names."""

    bucket: str
    region: str
    credentials: str  # CredentialSource.describe(): a file and profile, or the default chain
    endpoint: str | None = None
    # The environment variable the region came from, when no flag gave it: an operator who never
    # typed the region must be told where the wrong one came from.
    region_from: str | None = None

    def context(self) -> str:
        where = f" at {self.endpoint}" if self.endpoint else ""
        origin = f" (from ${self.region_from})" if self.region_from else ""
        return f"bucket {self.bucket}, region {self.region}{origin}{where}, {self.credentials}"


def bucket_region_of(exc: botocore.exceptions.ClientError) -> str | None:
    """The bucket's real region, when S3 says it in a redirect or a malformed-authorization reply."""
    headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    region = headers.get("x-amz-bucket-region") or exc.response.get("Error", {}).get("Region")
    return str(region) if region else None


def s3_failure(exc: Exception, target: S3Target, action: str, location: str = "") -> CloudBackupError:
    """Translate a botocore exception raised while doing `action` (e.g. "upload") into one clear line."""
    ctx = target.context()
    what = location or f"s3://{target.bucket}"
    if isinstance(exc, CloudBackupError):
        return exc
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "")) or "Unknown"
        message = _one_line(str(error.get("Message", "")))
        if code == "NoSuchBucket":
            return UsageError(f"S3 bucket {target.bucket} does not exist ({ctx})")
        if code in _CREDENTIAL_CODES:
            return UsageError(f"S3 rejected the credentials ({code}) while trying to {action} {what} ({ctx})")
        if code in _DENIED_CODES and "object lock" in message.lower():
            return OperationError(
                f"cannot {action} {what}: Object Lock protects it until its retention ends ({ctx})"
            )
        if code in _DENIED_CODES:
            return UsageError(f"access denied: cannot {action} {what} ({ctx})")
        if code in _REGION_CODES:
            real = bucket_region_of(exc)
            actual = f"is in region {real}" if real else "is in another region"
            return UsageError(f"S3 bucket {target.bucket} {actual}, not {target.region} ({ctx})")
        if code in _EXISTS_CODES:
            return ObjectExists(f"{what} already exists; backups are never overwritten ({ctx})")
        if code in _MISSING_KEY_CODES:
            return OperationError(f"{what} does not exist ({ctx})")
        if code in _KMS_CODES or code.startswith("KMS."):
            return UsageError(f"the KMS key cannot be used to {action} {what}: {code} {message} ({ctx})")
        detail = f"{code}: {message}" if message else code
        return OperationError(f"cannot {action} {what}: {detail} ({ctx})")
    if isinstance(exc, botocore.exceptions.NoCredentialsError | botocore.exceptions.PartialCredentialsError):
        return UsageError(
            f"no AWS credentials found ({target.credentials}); give --backup-credential FILE ({ctx})"
        )
    if isinstance(exc, botocore.exceptions.EndpointConnectionError | botocore.exceptions.ConnectTimeoutError):
        return OperationError(f"cannot reach S3 to {action} {what}: {_one_line(str(exc))} ({ctx})")
    if isinstance(exc, botocore.exceptions.BotoCoreError):
        return OperationError(
            f"cannot {action} {what} after retries: {type(exc).__name__}: {_one_line(str(exc))} ({ctx})"
        )
    return OperationError(f"cannot {action} {what}: {type(exc).__name__}: {_one_line(str(exc))} ({ctx})")


def precondition_failed(exc: Exception) -> bool:
    """If-None-Match: * found the key taken; after a retry, possibly by our own first attempt."""
    return isinstance(exc, botocore.exceptions.ClientError) and exc.response.get("Error", {}).get("Code") in (
        "PreconditionFailed",
        "412",
    )


def no_such_upload(exc: Exception) -> bool:
    """AbortMultipartUpload found no upload: S3 completed it, or it was aborted before."""
    return isinstance(exc, botocore.exceptions.ClientError) and exc.response.get("Error", {}).get("Code") == (
        "NoSuchUpload"
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]
