"""Backups and restores as ECS Fargate tasks, for sources whose databases outgrow a 15-minute Lambda run.

One engine, two runners: a task runs the public Lambda Python base image (Python 3.12 + boto3) with its
entry point replaced by a short bootstrap (infra/task_bootstrap.py, passed as `python3 -c`), which fetches
the same asset the functions deploy, checks its SHA-256 and runs `handlers.task` with the same event. No
image is built, so synth and deploy need no Docker.

Per stack one cluster; per fargate source a backup and a restore task definition (arm64), each with its
own task role scoped like the functions' roles (backup cannot list or delete; restore cannot
write), an execution role that only writes the task's log group, and the source's network placement.
With `pitr`, a third task definition runs `binlog archive --follow` as an ECS service of one task (its
role as the binlog function's: list, read and add under `_binlog/`, never delete); ECS replaces the task
when it stops, and the new one resumes after the archive's last committed segment.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from aws_cdk import Stack
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import custom_resources as cr
from constructs import Construct

from handlers import constants as c
from infra.config import Network, Source, Task
from infra.functions import (
    LOG_RETENTION,
    Placement,
    Shared,
    backup_access,
    binlog_access,
    grant_run_access,
    publish_results_statement,
    restore_access,
    run_environment,
)
from infra.nag import acknowledge, acknowledge_prefix_scope
from infra.permissions import Access
from infra.schedules import backup_event

# AWS's public Lambda base image: Python 3.12 and boto3 on Amazon Linux 2023, arm64; used as a plain
# container (its Lambda entry point replaced), so the task has the functions' interpreter and libraries.
BASE_IMAGE = "public.ecr.aws/lambda/python:3.12-arm64"
CONTAINER = "cloudbackup"
BOOTSTRAP = Path(__file__).with_name("task_bootstrap.py")


def binlog_follow_event(source: str) -> dict[str, Any]:
    """The binlog follower's event (handlers.models.BinlogFollowEvent): `binlog archive --follow`."""
    return {"source": source, "binlog": "follow"}


def container_overrides(event: dict[str, Any]) -> dict[str, Any]:
    """RunTask's `overrides` that hand `event` to the task (what a schedule's input and the operator's
    `aws ecs run-task --overrides` both pass)."""
    return {
        "containerOverrides": [
            {"name": CONTAINER, "environment": [{"name": c.ENV_TASK_EVENT, "value": json.dumps(event)}]}
        ]
    }


class TaskAsset(Construct):
    """The functions' asset as one zip in the CDK asset bucket, with the hash the bootstrap checks."""

    def __init__(self, scope: Construct, construct_id: str, *, archive: Path, sha256: str) -> None:
        super().__init__(scope, construct_id)
        self.asset = s3_assets.Asset(self, "Archive", path=str(archive))
        self.sha256 = sha256

    def read_statement(self) -> iam.PolicyStatement:
        # This one object, not the whole asset bucket.
        return iam.PolicyStatement(
            sid="ReadTaskAsset",
            actions=["s3:GetObject"],
            resources=[
                f"arn:{Stack.of(self).partition}:s3:::{self.asset.s3_bucket_name}/{self.asset.s3_object_key}"
            ],
        )


class TaskCluster(Construct):
    """The stack's one ECS cluster, made on the first fargate source (in that source's VPC: a Fargate
    task's network comes from RunTask, so sources in other VPCs share the cluster)."""

    def __init__(self, scope: Construct, construct_id: str, *, network: Network) -> None:
        super().__init__(scope, construct_id)
        placement = Placement.of(self, "Cluster", network)
        self.cluster = ecs.Cluster(
            self, "Cluster", vpc=placement.vpc, container_insights_v2=ecs.ContainerInsights.ENABLED
        )


class SourceTasks(Construct):
    """The backup and restore tasks of one fargate source, and its binlog follower with `pitr`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        source: Source,
        shared: Shared,
        asset: TaskAsset,
        cluster: ecs.ICluster,
    ) -> None:
        super().__init__(scope, construct_id)
        assert source.network is not None  # the config requires it for runner fargate
        self.source = source
        self.cluster = cluster
        self.placement = Placement.of(self, "Task", source.network)
        self._shared = shared
        self._asset = asset
        self.backup = self._task("Backup", "backup", backup_access(shared, source), backup_event(source))
        # The restore task also runs the source's drills
        self.restore = self._task(
            "Restore", "restore", restore_access(shared, source), None, drills=source.drill is not None
        )
        publishers = [self.backup] + [self.restore] * bool(source.drill)  # drills publish, as backups do
        self.binlog: ecs.FargateTaskDefinition | None = None
        self.follower: ecs.FargateService | None = None
        if source.pitr:
            # A replica's reads, with the backup's secret, as the binlog function's
            self.binlog = self._task(
                "Binlog",
                "backup",
                binlog_access(shared, source),
                binlog_follow_event(source.name),
                size=source.binlog_task,
            )
            self.follower = self._follower(self.binlog)
            publishers.append(self.binlog)  # a `Binlog Gap` event
        for definition in publishers:
            definition.task_role.add_to_principal_policy(publish_results_statement(Stack.of(self)))

    def _task(
        self,
        name: str,
        run: Literal["backup", "restore"],  # whose database secret the task reads
        access: Access,
        event: dict[str, Any] | None,
        *,
        size: Task | None = None,
        drills: bool = False,
    ) -> ecs.FargateTaskDefinition:
        source, shared = self.source, self._shared
        role = iam.Role(
            self,
            f"{name}TaskRole",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description=f"cloudbackup: {name.lower()} task of {source.name}",
        )
        grant_run_access(role, access, shared, source, source.secret_for(run), drills=drills)
        role.add_to_principal_policy(self._asset.read_statement())
        execution_role = iam.Role(
            self,
            f"{name}ExecutionRole",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description=f"cloudbackup: starts the {name.lower()} task of {source.name}; writes its logs",
        )
        size = size or source.task
        definition = ecs.FargateTaskDefinition(
            self,
            f"{name}Task",
            cpu=size.cpu,
            memory_limit_mib=size.memory_mib,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.ARM64,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
            task_role=role,
            execution_role=execution_role,
        )
        log_group = logs.LogGroup(
            self, f"{name}Logs", retention=LOG_RETENTION[shared.settings.log_retention_days]
        )
        environment = {
            **run_environment(shared, source),
            # No X-Ray daemon beside the task: Powertools' tracer stays off (logs and metrics still flow).
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
        if event is not None:  # the scheduled event, also the default when the task is started by hand
            environment[c.ENV_TASK_EVENT] = json.dumps(event)
        definition.add_container(
            CONTAINER,
            image=ecs.ContainerImage.from_registry(BASE_IMAGE),
            entry_point=["python3", "-c", BOOTSTRAP.read_text()],
            command=[self._asset.asset.s3_bucket_name, self._asset.asset.s3_object_key, self._asset.sha256],
            environment=environment,
            logging=ecs.LogDrivers.aws_logs(
                stream_prefix=f"{source.name}-{name.lower()}", log_group=log_group
            ),
        )
        acknowledge_prefix_scope(role, shared.bucket, access.prefix)
        acknowledge(
            definition,
            "AwsSolutions-ECS2",
            "The container's environment holds settings only (bucket, prefix, key ARN, the source's secret "
            "ARN, the event); the database credentials are read from Secrets Manager at run time.",
        )
        return definition

    def _follower(self, definition: ecs.FargateTaskDefinition) -> ecs.FargateService:
        """One follower at a time, always: ECS starts a new task when it stops, and never a second beside
        it (two followers would race for the same next segment, and the server drops one replica of an id
        when another connects), so a new revision replaces the old task instead of overlapping it."""
        return ecs.FargateService(
            self,
            "BinlogFollower",
            cluster=self.cluster,
            task_definition=definition,
            desired_count=1,
            min_healthy_percent=0,
            max_healthy_percent=100,
            # A new revision whose follower keeps failing goes back to the one that ran, if any
            circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True),
            vpc_subnets=self.placement.subnets,
            security_groups=self.placement.groups,
            assign_public_ip=False,
        )

    def run_task_call(self, definition: ecs.FargateTaskDefinition, event: dict[str, Any]) -> dict[str, Any]:
        """RunTask's parameters for one run of `definition` with `event` (the first backup after deploy)."""
        return {
            "cluster": self.cluster.cluster_arn,
            "taskDefinition": definition.task_definition_arn,
            "launchType": "FARGATE",
            "networkConfiguration": {
                "awsvpcConfiguration": {
                    "subnets": [s.subnet_id for s in self.placement.subnets.subnets or []],
                    "securityGroups": [g.security_group_id for g in self.placement.groups],
                    "assignPublicIp": "DISABLED",
                }
            },
            "overrides": container_overrides(event),
        }

    def run_task_policy(self, definition: ecs.FargateTaskDefinition) -> cr.AwsCustomResourcePolicy:
        """Starting `definition` and handing it its two roles; nothing else."""
        return cr.AwsCustomResourcePolicy.from_statements(
            [
                iam.PolicyStatement(actions=["ecs:RunTask"], resources=[definition.task_definition_arn]),
                iam.PolicyStatement(
                    actions=["iam:PassRole"],
                    resources=[definition.task_role.role_arn, definition.obtain_execution_role().role_arn],
                ),
            ]
        )
