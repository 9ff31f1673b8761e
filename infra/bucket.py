"""The backup bucket: versioned, private, TLS only, SSE-KMS with a customer key, lifecycle, access logs,
Object Lock (GOVERNANCE by default), no overwrites, and its events on EventBridge (for the delete alarm)."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import DeploymentConfig, Retention

_ARCHIVE_CLASSES = {
    "STANDARD_IA": s3.StorageClass.INFREQUENT_ACCESS,
    "INTELLIGENT_TIERING": s3.StorageClass.INTELLIGENT_TIERING,
    "GLACIER_IR": s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
}


class BackupBucket(Construct):
    """`bucket` holds the backups, `key` encrypts them, `log_bucket` receives the server access logs."""

    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig) -> None:
        super().__init__(scope, construct_id)
        self.key = self._key(config.kms_key_arn)
        self.log_bucket = self._log_bucket(config.retention)
        retention = config.retention
        lock = retention.object_lock
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[self._lifecycle(retention)],
            server_access_logs_bucket=self.log_bucket,
            server_access_logs_prefix="backup-bucket/",
            object_lock_enabled=lock.enabled or None,
            object_lock_default_retention=_lock_retention(lock.mode, lock.days) if lock.enabled else None,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.bucket.add_to_resource_policy(deny_overwrites(self.bucket))
        # The bucket's events go to EventBridge (Object Deleted feeds the delete alarm, monitoring.py). Set on
        # the resource itself: `event_bridge_enabled=True` would add a custom-resource function to do it.
        cfn_bucket = self.bucket.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)
        cfn_bucket.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(
                event_bridge_enabled=True
            )
        )

    def _key(self, imported_arn: str | None) -> kms.IKey:
        if imported_arn:
            return kms.Key.from_key_arn(self, "Key", imported_arn)
        return kms.Key(
            self,
            "Key",
            description="cloudbackup: encrypts the database backups",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,  # the backups outlive the stack; so must their key
        )

    def _log_bucket(self, retention: Retention) -> s3.Bucket:
        # Access-log delivery supports SSE-S3 only, not SSE-KMS.
        return s3.Bucket(
            self,
            "AccessLogs",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            encryption=s3.BucketEncryption.S3_MANAGED,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=Duration.days(retention.access_log_days),
                    noncurrent_version_expiration=Duration.days(1),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )

    @staticmethod
    def _lifecycle(retention: Retention) -> s3.LifecycleRule:
        archive = retention.archive
        transitions = (
            [
                s3.Transition(
                    storage_class=_ARCHIVE_CLASSES[archive.storage_class],
                    transition_after=Duration.days(archive.after_days),
                )
            ]
            if archive
            else None
        )
        return s3.LifecycleRule(
            id="backups",
            abort_incomplete_multipart_upload_after=Duration.days(1),
            noncurrent_version_expiration=Duration.days(retention.noncurrent_days),
            expired_object_delete_marker=True,
            transitions=transitions,
        )


def deny_overwrites(bucket: s3.IBucket) -> iam.PolicyStatement:
    """Nobody writes an object without `If-None-Match` (write only if absent), so nothing is replaced.

    The documented form (S3 user guide, "Enforce conditional writes on Amazon S3 buckets"): the condition
    key `s3:if-none-match` is absent (`Null` true) on a request without the header; CreateMultipartUpload
    and UploadPart cannot carry it, so only object-creating requests (PutObject, CompleteMultipartUpload,
    CopyObject: `s3:ObjectCreationOperation` true) are denied without it. Every engine write sends it.
    """
    return iam.PolicyStatement(
        sid="DenyOverwrites",
        effect=iam.Effect.DENY,
        principals=[iam.AnyPrincipal()],
        actions=["s3:PutObject"],
        resources=[bucket.arn_for_objects("*")],
        conditions={
            "Null": {"s3:if-none-match": "true"},
            "Bool": {"s3:ObjectCreationOperation": "true"},
        },
    )


def _lock_retention(mode: str, days: int) -> s3.ObjectLockRetention:
    duration = Duration.days(days)
    if mode == "COMPLIANCE":
        return s3.ObjectLockRetention.compliance(duration)
    return s3.ObjectLockRetention.governance(duration)
