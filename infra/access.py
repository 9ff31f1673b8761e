"""Operator access from outside AWS: a managed policy, an IAM user holding it, its key in Secrets Manager.

The secret access key never appears in outputs or logs: `cloudbackup credentials --stack NAME --out FILE`
reads it from Secrets Manager and writes a credentials file.
"""

from __future__ import annotations

from aws_cdk import SecretValue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from cloudbackup.cli.cmd_credentials import SECRET_ACCESS_KEY_FIELD, SECRET_KEY_ID_FIELD
from infra.nag import acknowledge_prefix_scope, acknowledge_secret_rotation
from infra.permissions import Access, statements


class OperatorAccess(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket: s3.IBucket,
        key: kms.IKey,
        prefix: str,
        allow_prune: bool,
        key_serial: int = 1,
    ) -> None:
        super().__init__(scope, construct_id)
        access = Access(prefix=prefix, listing=True, read=True, write=True, delete=allow_prune)
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description="cloudbackup CLI: back up, list, verify, restore"
            + (" and prune" if allow_prune else "")
            + " under the backup prefix",
            statements=statements(access, bucket, key),
        )
        acknowledge_prefix_scope(self.policy, bucket, prefix)
        self.user = iam.User(self, "User", managed_policies=[self.policy])
        # A new serial replaces the key (and updates the secret): the rotation of an IAM access key.
        access_key = iam.AccessKey(self, "AccessKey", user=self.user, serial=key_serial)
        self.secret = secretsmanager.Secret(
            self,
            "AccessKeySecret",
            description="cloudbackup: the operator user's access key (read by `cloudbackup credentials`)",
            secret_object_value={
                SECRET_KEY_ID_FIELD: SecretValue.unsafe_plain_text(access_key.access_key_id),
                SECRET_ACCESS_KEY_FIELD: access_key.secret_access_key,
            },
        )
        acknowledge_secret_rotation(self.secret)
