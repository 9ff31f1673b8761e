"""Which S3 and KMS actions each principal gets: only what the engine calls, scoped to its key prefix.

The engine's calls map to IAM actions like this (tests/infra/test_policy_matches_calls.py checks it
against the calls recorded during a real backup, list, verify and restore):

    PutObject, CreateMultipartUpload, UploadPart, CompleteMultipartUpload -> s3:PutObject
    AbortMultipartUpload                                                  -> s3:AbortMultipartUpload
    GetObject, HeadObject                                                 -> s3:GetObject
    ListObjectsV2                                                         -> s3:ListBucket (on the bucket)
    DeleteObject (prune)                                                  -> s3:DeleteObject

With SSE-KMS, S3 calls KMS on the caller's behalf: a write needs kms:GenerateDataKey (and
kms:Decrypt to complete a multipart upload); a read needs kms:Decrypt. Nothing else: never s3:*,
no s3:DeleteObjectVersion (versioning keeps what a prune deletes), no bucket configuration.

Writes carry `If-None-Match: *` (a header, no extra permission): the bucket policy denies object writes
without it (bucket.py), so no principal here can replace a backup. With Object Lock (the default) a
prune's DeleteObject only adds a delete marker; the locked version stays until its retention ends.

Three bucket-level reads stay denied on purpose: HeadBucket (needs s3:ListBucket without a prefix),
GetBucketVersioning and GetObjectLockConfiguration (prune's note); the engine treats a denial of any
as "unknown" and goes on.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

S3_LIST = ("s3:ListBucket",)
S3_READ = ("s3:GetObject",)
S3_WRITE = ("s3:PutObject", "s3:AbortMultipartUpload")
S3_DELETE = ("s3:DeleteObject",)
KMS_READ = ("kms:Decrypt",)
KMS_WRITE = ("kms:GenerateDataKey", "kms:Decrypt")


@dataclass(frozen=True)
class Access:
    """What one principal may do under `prefix` (a key prefix without trailing slash)."""

    prefix: str
    listing: bool = False
    read: bool = False
    write: bool = False
    delete: bool = False

    def s3_object_actions(self) -> list[str]:
        actions: list[str] = []
        for wanted, granted in ((self.read, S3_READ), (self.write, S3_WRITE), (self.delete, S3_DELETE)):
            actions += granted if wanted else ()
        return actions

    def kms_actions(self) -> list[str]:
        actions = (KMS_WRITE if self.write else ()) + (KMS_READ if self.read else ())
        return sorted(set(actions))


def statements(access: Access, bucket: s3.IBucket, key: kms.IKey) -> list[iam.PolicyStatement]:
    """List the prefix, touch the objects under it, use the bucket's key through S3 only."""
    listing = iam.PolicyStatement(
        sid="ListBackups",
        actions=list(S3_LIST),
        resources=[bucket.bucket_arn],
        conditions={"StringLike": {"s3:prefix": [f"{access.prefix}/*"]}},
    )
    return [listing] * access.listing + [
        iam.PolicyStatement(
            sid="BackupObjects",
            actions=access.s3_object_actions(),
            resources=[bucket.arn_for_objects(f"{access.prefix}/*")],
        ),
        iam.PolicyStatement(
            sid="BackupKey",
            actions=access.kms_actions(),
            resources=[key.key_arn],
            # The key serves S3 requests for this bucket only, not direct calls.
            conditions={"StringEquals": {"kms:ViaService": f"s3.{bucket.stack.region}.amazonaws.com"}},
        ),
    ]
