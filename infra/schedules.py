"""When backups run: one EventBridge Scheduler schedule per source, plus one backup right after deploy;
and, for a source with a drill, the schedule that runs the restore function's drill.

Scheduler invokes the backup function asynchronously with the backup event as input. A delivery that
keeps failing (throttling, a deleted function) goes to an encrypted dead-letter queue, and so does an
invocation the function itself failed after Lambda's retry, so no missed backup disappears silently.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aws_cdk import CfnResource, Duration, Stack, TimeZone
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_sqs as sqs
from aws_cdk import custom_resources as cr
from constructs import Construct

from infra.config import Source, rate_minutes
from infra.nag import acknowledge_dead_letter_queue, acknowledge_scheduler_role

if TYPE_CHECKING:
    from infra.tasks import SourceTasks

RETRY_ATTEMPTS = 3
MAX_EVENT_AGE = Duration.hours(2)
FUNCTION_RETRIES = 1  # a failed backup is tried once more by Lambda, then lands in the queue


def backup_event(source: Source) -> dict[str, Any]:
    """The backup function's input (handlers.models.BackupEvent)."""
    return {"source": source.name, "databases": source.databases}


def binlog_event(source: Source) -> dict[str, Any]:
    """The binlog function's input (handlers.models.BinlogEvent)."""
    return {"source": source.name}


def binlog_schedule_expression(source: Source) -> scheduler.ScheduleExpression:
    return scheduler.ScheduleExpression.expression(rate_minutes(source.binlog_interval_minutes))


def drill_events(source: Source) -> list[dict[str, Any]]:
    """The restore function's drill inputs (handlers.models.DrillEvent), one per listed database."""
    databases = source.databases if isinstance(source.databases, list) else []
    return [{"source": source.name, "database": database, "drill": True} for database in databases]


def schedule_expression(source: Source, expression: str | None = None) -> scheduler.ScheduleExpression:
    # The time zone matters for cron (and daylight saving); a rate counts from the schedule's creation.
    return scheduler.ScheduleExpression.expression(
        expression or source.schedule, TimeZone.of(source.time_zone)
    )


def _role_description(source: Source, kind: str) -> str:
    if kind == "backup":
        return f"cloudbackup: lets the schedule of {source.name} invoke its backup function"
    function = "restore" if kind == "drill" else kind
    return f"cloudbackup: lets the {kind} schedule of {source.name} invoke its {function} function"


class BackupSchedules(Construct):
    """`dead_letter_queue` collects undeliverable and failed scheduled backups of every source."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        acknowledge_dead_letter_queue(self.dead_letter_queue)

    def add(self, source: Source, backup: lambda_.IFunction) -> scheduler.Schedule:
        event = backup_event(source)
        role = self._scheduler_role(source, backup)
        schedule = self._schedule(
            source,
            targets.LambdaInvoke(
                backup,
                input=scheduler.ScheduleTargetInput.from_object(event),
                dead_letter_queue=self.dead_letter_queue,
                retry_attempts=RETRY_ATTEMPTS,
                max_event_age=MAX_EVENT_AGE,
                role=role,
            ),
        )
        backup.configure_async_invoke(
            retry_attempts=FUNCTION_RETRIES,
            max_event_age=MAX_EVENT_AGE,
            on_failure=destinations.SqsDestination(self.dead_letter_queue),
        )
        self._first_backup(source, backup, event)
        return schedule

    def add_binlog(self, source: Source, binlog: lambda_.IFunction) -> scheduler.Schedule:
        """Archive the source's binary log every `binlog_interval_minutes` (an overlapping run only
        finds the segments the other committed: each run resumes from the newest index)."""
        role = self._scheduler_role(source, binlog, kind="binlog")
        schedule = scheduler.Schedule(
            self,
            f"{source.name}-binlog-schedule",
            description=f"cloudbackup: archive the binary log of {source.name}",
            schedule=binlog_schedule_expression(source),
            target=targets.LambdaInvoke(
                binlog,
                input=scheduler.ScheduleTargetInput.from_object(binlog_event(source)),
                dead_letter_queue=self.dead_letter_queue,
                retry_attempts=RETRY_ATTEMPTS,
                max_event_age=MAX_EVENT_AGE,
                role=role,
            ),
        )
        binlog.configure_async_invoke(
            retry_attempts=FUNCTION_RETRIES,
            max_event_age=MAX_EVENT_AGE,
            on_failure=destinations.SqsDestination(self.dead_letter_queue),
        )
        return schedule

    def add_drills(self, source: Source, restore: lambda_.IFunction) -> list[scheduler.Schedule]:
        """One schedule per listed database: a drill restores one database. A failed drill is not
        retried (the alarm reports it, and the next scheduled drill tries again)."""
        assert source.drill is not None
        role = self._scheduler_role(source, restore, kind="drill")
        schedules = [
            scheduler.Schedule(
                self,
                f"{source.name}-drill-{index}",
                description=f"cloudbackup: restore drill of {source.name} {event['database']}",
                schedule=schedule_expression(source, source.drill.schedule),
                target=targets.LambdaInvoke(
                    restore,
                    input=scheduler.ScheduleTargetInput.from_object(event),
                    dead_letter_queue=self.dead_letter_queue,
                    retry_attempts=RETRY_ATTEMPTS,
                    max_event_age=MAX_EVENT_AGE,
                    role=role,
                ),
            )
            for index, event in enumerate(drill_events(source))
        ]
        restore.configure_async_invoke(retry_attempts=0, max_event_age=MAX_EVENT_AGE)
        return schedules

    def add_task_drills(self, source: Source, tasks: SourceTasks) -> list[scheduler.Schedule]:
        """A fargate source's drills: its restore task started with each drill event, one schedule per
        listed database, as the restore function's drills are."""
        from infra.tasks import container_overrides  # infra.tasks builds on this module

        assert source.drill is not None
        role = self._task_scheduler_role(source, "drill", "start its restore task for drills")
        return [
            scheduler.Schedule(
                self,
                f"{source.name}-drill-{index}",
                description=f"cloudbackup: restore drill of {source.name} {event['database']}",
                schedule=schedule_expression(source, source.drill.schedule),
                target=self._task_target(tasks, tasks.restore, container_overrides(event), role),
            )
            for index, event in enumerate(drill_events(source))
        ]

    def _task_scheduler_role(self, source: Source, kind: str, what: str) -> iam.Role:
        return iam.Role(
            self,
            f"{source.name}-scheduler-{kind}-task-role",
            description=f"cloudbackup: lets the {kind} schedule of {source.name} {what}",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            ),
        )

    def _task_target(
        self, tasks: SourceTasks, definition: Any, overrides: dict[str, Any], role: iam.IRole
    ) -> targets.EcsRunFargateTask:
        return targets.EcsRunFargateTask(
            tasks.cluster,
            task_definition=definition,
            input=scheduler.ScheduleTargetInput.from_object(overrides),
            vpc_subnets=tasks.placement.subnets,
            security_groups=tasks.placement.groups,
            assign_public_ip=False,
            dead_letter_queue=self.dead_letter_queue,
            retry_attempts=RETRY_ATTEMPTS,
            max_event_age=MAX_EVENT_AGE,
            role=role,
        )

    def add_task(self, source: Source, tasks: SourceTasks) -> scheduler.Schedule:
        """The same schedule, retries and dead-letter queue, starting the source's backup task.

        For an ECS target, Scheduler passes the input as RunTask's `overrides`: the event reaches the
        container as CLOUDBACKUP_EVENT, as the task definition's own default does."""
        from infra.tasks import container_overrides  # infra.tasks builds on this module

        event = backup_event(source)
        role = iam.Role(
            self,
            f"{source.name}-scheduler-task-role",
            description=f"cloudbackup: lets the schedule of {source.name} start its backup task",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            ),
        )
        schedule = self._schedule(
            source, self._task_target(tasks, tasks.backup, container_overrides(event), role)
        )
        cr.AwsCustomResource(
            self,
            f"{source.name}-first-backup",
            on_create=cr.AwsSdkCall(
                service="ECS",
                action="runTask",
                parameters=tasks.run_task_call(tasks.backup, event),
                physical_resource_id=cr.PhysicalResourceId.of(f"first-backup-{source.name}"),
            ),
            policy=tasks.run_task_policy(tasks.backup),
            install_latest_aws_sdk=False,
        )
        return schedule

    def _schedule(self, source: Source, target: scheduler.IScheduleTarget) -> scheduler.Schedule:
        return scheduler.Schedule(
            self,
            f"{source.name}-schedule",
            description=f"cloudbackup: back up {source.name}",
            schedule=schedule_expression(source),
            target=target,
        )

    def _scheduler_role(self, source: Source, function: lambda_.IFunction, kind: str = "backup") -> iam.Role:
        stack = Stack.of(self)
        role = iam.Role(
            self,
            f"{source.name}-scheduler-role" if kind == "backup" else f"{source.name}-{kind}-scheduler-role",
            description=_role_description(source, kind),
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": stack.account}}
            ),
        )
        function_resource = function.node.default_child
        assert isinstance(function_resource, CfnResource)
        acknowledge_scheduler_role(role, stack.get_logical_id(function_resource))
        return role

    def _first_backup(self, source: Source, backup: lambda_.IFunction, event: dict[str, Any]) -> None:
        """Invoke the backup once when the stack (or this source) is created: a backup from day one.

        No explicit dependency is needed: the call names the function, which waits for its policies."""
        cr.AwsCustomResource(
            self,
            f"{source.name}-first-backup",
            on_create=cr.AwsSdkCall(
                service="Lambda",
                action="invoke",
                parameters={
                    "FunctionName": backup.function_name,
                    "InvocationType": "Event",
                    "Payload": json.dumps(event),
                },
                physical_resource_id=cr.PhysicalResourceId.of(f"first-backup-{source.name}"),
            ),
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[backup.function_arn])]
            ),
            install_latest_aws_sdk=False,
        )
