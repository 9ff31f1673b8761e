"""The cloudbackup stack: bucket, operator access, per-source functions, schedules, monitoring, console.

Reusable from another CDK app: `CloudBackupStack(app, "Backups", config=load_config(raw))`.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from cloudbackup.cli.cmd_credentials import OUTPUT_BUCKET_URL, OUTPUT_SECRET, OUTPUT_USER
from infra.access import OperatorAccess
from infra.bucket import BackupBucket
from infra.bundling import build_lambda_asset, build_task_archive
from infra.config import DeploymentConfig, Source
from infra.console import ConsoleTestEvents
from infra.functions import Shared, SourceFunctions, asset_ca_files
from infra.monitoring import Monitoring
from infra.nag import acknowledge_stack_findings
from infra.schedules import BackupSchedules
from infra.tasks import SourceTasks, TaskAsset, TaskCluster
from infra.write_audit import WriteAudit


def output_id(source: str, kind: str) -> str:
    return "".join(part.capitalize() for part in source.split("-")) + kind


class CloudBackupStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: DeploymentConfig, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # Access-log delivery through a bucket policy, not ACLs (the buckets enforce bucket ownership).
        self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
        self.config = config
        storage = BackupBucket(self, "Storage", config=config)
        self.storage = storage
        self.access = OperatorAccess(
            self,
            "OperatorAccess",
            bucket=storage.bucket,
            key=storage.key,
            prefix=config.prefix,
            allow_prune=config.allow_prune,
            key_serial=config.access_key_serial,
        )
        self.asset_dir = build_lambda_asset(extra_files=asset_ca_files(config.sources))
        self.cluster: ecs.ICluster | None = None
        shared = Shared(
            code=lambda_.Code.from_asset(str(self.asset_dir)),
            bucket=storage.bucket,
            key=storage.key,
            prefix=config.prefix,
            settings=config.functions,
            binlog_reserved_concurrency=config.binlog_reserved_concurrency,
        )
        self.schedules = BackupSchedules(self, "Schedules")
        self.monitoring = Monitoring(self, "Monitoring", alarm_email=config.alarm_email)
        self.monitoring.watch_dead_letters(self.schedules.dead_letter_queue)
        self.monitoring.watch_bucket(storage.bucket)
        if config.audit_writes:
            WriteAudit(self, "WriteAudit", bucket=storage.bucket, log_bucket=storage.log_bucket)
            self.monitoring.watch_overwrite_attempts(storage.bucket)
        self.console = ConsoleTestEvents(self, "ConsoleTestEvents")
        self.sources: dict[str, SourceFunctions] = {}
        self.tasks: dict[str, SourceTasks] = {}
        for source in config.sources:
            if source.runner == "fargate":
                self._fargate_source(source, shared)
                continue
            functions = SourceFunctions(self, f"Source-{source.name}", source=source, shared=shared)
            self.sources[source.name] = functions
            self.schedules.add(source, functions.backup)
            self.monitoring.watch_source(
                source.name, functions.backup, functions.restore, source.backup_window_hours
            )
            if source.drill:
                self.schedules.add_drills(source, functions.restore)
                self.monitoring.watch_drills(source.name, source.drill.window_days)
            self.console.add_restore_events(source, functions.restore)
            if functions.binlog is not None:
                self.schedules.add_binlog(source, functions.binlog)
                self.monitoring.watch_binlog(source.name, functions.binlog, source.binlog_interval_minutes)
                CfnOutput(
                    self, output_id(source.name, "BinlogFunction"), value=functions.binlog.function_name
                )
            CfnOutput(self, output_id(source.name, "BackupFunction"), value=functions.backup.function_name)
            CfnOutput(self, output_id(source.name, "RestoreFunction"), value=functions.restore.function_name)
        self._outputs()
        acknowledge_stack_findings(self)

    def _fargate_source(self, source: Source, shared: Shared) -> None:
        if self.cluster is None:
            assert source.network is not None  # the config requires it for runner fargate
            archive, sha256 = build_task_archive(self.asset_dir)
            self.task_asset = TaskAsset(self, "TaskAsset", archive=archive, sha256=sha256)
            self.cluster = TaskCluster(self, "Tasks", network=source.network).cluster
            self.monitoring.watch_cluster(self.cluster)
        tasks = SourceTasks(
            self,
            f"Tasks-{source.name}",
            source=source,
            shared=shared,
            asset=self.task_asset,
            cluster=self.cluster,
        )
        self.tasks[source.name] = tasks
        self.schedules.add_task(source, tasks)
        self.monitoring.watch_task_source(source.name, source.backup_window_hours)
        if source.drill:
            self.schedules.add_task_drills(source, tasks)
            self.monitoring.watch_drills(source.name, source.drill.window_days)
        follower = tasks.follower
        if follower is not None:
            self.monitoring.watch_binlog_follower(source.name, follower, source.binlog_interval_minutes)
            CfnOutput(self, output_id(source.name, "BinlogFollowerService"), value=follower.service_name)
        CfnOutput(
            self, output_id(source.name, "BackupTaskDefinition"), value=tasks.backup.task_definition_arn
        )
        CfnOutput(
            self, output_id(source.name, "RestoreTaskDefinition"), value=tasks.restore.task_definition_arn
        )

    def _outputs(self) -> None:
        bucket = self.storage.bucket.bucket_name
        CfnOutput(self, "BucketName", value=bucket)
        CfnOutput(
            self,
            OUTPUT_BUCKET_URL,
            value=f"s3://{bucket}/{self.config.prefix}",
            description="--backup-bucket for the cloudbackup command",
        )
        CfnOutput(self, OUTPUT_USER, value=self.access.user.user_name)
        CfnOutput(
            self,
            OUTPUT_SECRET,
            value=self.access.secret.secret_arn,
            description="the operator user's access key (Secrets Manager; never printed here)",
        )
        CfnOutput(
            self,
            "CredentialsCommand",
            value=f"cloudbackup credentials --stack {self.stack_name} --out ~/.aws/cloudbackup-credentials",
            description="writes the operator user's key as a credentials file (--backup-credential)",
        )
        CfnOutput(self, "AlarmTopicArn", value=self.monitoring.topic.topic_arn)
        if self.cluster is not None:
            CfnOutput(self, "TaskCluster", value=self.cluster.cluster_name)
