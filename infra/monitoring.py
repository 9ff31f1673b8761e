"""Who hears about a problem: an SNS topic (+ e-mail), alarms, and the `Backup Failed` events.

Alarms per source: either function failing, and no successful backup within the expected window
(the backup handler emits BackupSucceeded with the dimensions service and source). One more alarm
watches the dead-letter queue of undelivered or failed scheduled backups, and one the backup bucket's
deletions (S3's own `Object Deleted` events on EventBridge: delete markers and permanent deletes by a
DeleteObject call; lifecycle expiry is left out, it is the retention working).

Overwrites cannot be seen in S3's own events (`Object Created` does not say whether the key existed),
and they are prevented anyway: every write is conditional, the bucket policy denies unconditional ones,
and Object Lock keeps the older version. What is alarmed instead is an overwrite attempt: a write the
bucket refused (AccessDenied from the policy, or PreconditionFailed: the key exists), from the CloudTrail
data events of write_audit.py, when `audit_writes` is on.
A source with a drill also gets alarms on a failed drill and on no successful drill within its window.
A source with `pitr` gets one when its archived binary log falls behind or stops being reported, and a
`Binlog Gap` rule; on a fargate source, also one when its binlog follower service has no running task.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as events_targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from handlers import constants as c

ERROR_PERIOD = Duration.minutes(5)
# S3's EventBridge events for deletions by an API call (the `reason` of lifecycle expiry differs).
S3_OBJECT_DELETED = "Object Deleted"
DELETION_TYPES = ["Delete Marker Created", "Permanently Deleted"]
# CloudTrail's record of an object write the bucket refused: the policy's deny, or If-None-Match on a key
# that exists. (Our own retry of a write whose answer was lost can show as one PreconditionFailed.)
WRITE_EVENTS = ["PutObject", "CompleteMultipartUpload", "CopyObject"]
REFUSED_WRITE_CODES = ["AccessDenied", "PreconditionFailed"]
CONTAINER_INSIGHTS = "ECS/ContainerInsights"


def binlog_lag(source: str, interval_minutes: int) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=c.DEFAULT_NAMESPACE,
        metric_name=c.METRIC_BINLOG_LAG,
        dimensions_map={"service": c.DEFAULT_SERVICE, c.DIMENSION_SOURCE: source},
        statistic="Maximum",
        period=Duration.minutes(interval_minutes),
    )


def running_tasks(service: ecs.FargateService, interval_minutes: int) -> cloudwatch.Metric:
    """The service's running tasks, from Container Insights (on for the cluster); no data when none run."""
    return cloudwatch.Metric(
        namespace=CONTAINER_INSIGHTS,
        metric_name="RunningTaskCount",
        dimensions_map={"ClusterName": service.cluster.cluster_name, "ServiceName": service.service_name},
        statistic="Maximum",
        period=Duration.minutes(interval_minutes),
    )


def backup_succeeded(source: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=c.DEFAULT_NAMESPACE,
        metric_name=c.METRIC_BACKUP_SUCCEEDED,
        dimensions_map={"service": c.DEFAULT_SERVICE, c.DIMENSION_SOURCE: source},
        statistic="Sum",
        period=Duration.hours(1),
    )


def drill_succeeded(source: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=c.DEFAULT_NAMESPACE,
        metric_name=c.METRIC_DRILL_SUCCEEDED,
        dimensions_map={"service": c.DEFAULT_SERVICE, c.DIMENSION_SOURCE: source},
        statistic="Sum",
        period=Duration.days(1),
    )


def failures(source: str, metric_name: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=c.DEFAULT_NAMESPACE,
        metric_name=metric_name,
        dimensions_map={"service": c.DEFAULT_SERVICE, c.DIMENSION_SOURCE: source},
        statistic="Sum",
        period=ERROR_PERIOD,
    )


class Monitoring(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, alarm_email: str | None) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "TopicKey",
            description="cloudbackup: encrypts alarm notifications",
            enable_key_rotation=True,
        )
        # Alarms and EventBridge publish to the encrypted topic, so they may use its key.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowAlarmAndEventPublishers",
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                principals=[
                    iam.ServicePrincipal("cloudwatch.amazonaws.com"),
                    iam.ServicePrincipal("events.amazonaws.com"),
                ],
                resources=["*"],  # in a key policy "*" means this key
            )
        )
        self.topic = sns.Topic(
            self, "Topic", display_name="cloudbackup alarms", master_key=self.key, enforce_ssl=True
        )
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        self._action = actions.SnsAction(self.topic)
        self._gap_rule = False
        events.Rule(
            self,
            "BackupFailedRule",
            description="cloudbackup: forward Backup Failed events to the alarm topic",
            event_pattern=events.EventPattern(source=[c.EVENT_SOURCE], detail_type=[c.EVENT_BACKUP_FAILED]),
            targets=[events_targets.SnsTopic(self.topic)],
        )

    def watch_source(
        self, source: str, backup: lambda_.IFunction, restore: lambda_.IFunction, window_hours: int
    ) -> None:
        for kind, function in (("backup", backup), ("restore", restore)):
            self._on_any(
                f"{source}-{kind}-errors",
                function.metric_errors(period=ERROR_PERIOD, statistic="Sum"),
                description=f"cloudbackup: the {kind} function of {source} failed",
            )
        self._missing_backup(source, window_hours)

    def watch_task_source(self, source: str, window_hours: int) -> None:
        """A fargate source: its runs count failures themselves (no function error metric to watch)."""
        self._on_any(
            f"{source}-backup-failures",
            failures(source, c.METRIC_BACKUP_FAILURES),
            description=f"cloudbackup: a backup task of {source} failed to back up a database",
        )
        self._missing_backup(source, window_hours)

    def watch_cluster(self, cluster: ecs.ICluster) -> None:
        """A task that stopped with a non-zero exit (a crash, an out-of-memory kill, a refused asset) may
        have counted nothing: ECS's own task state events go to the alarm topic. So does one that never
        started (its image not pulled, no route out of its subnets), whose container has no exit code."""
        events.Rule(
            self,
            "TaskFailedRule",
            description="cloudbackup: forward backup and restore tasks that stopped with an error",
            event_pattern=events.EventPattern(
                source=["aws.ecs"],
                detail_type=["ECS Task State Change"],
                detail={
                    "clusterArn": [cluster.cluster_arn],
                    "lastStatus": ["STOPPED"],
                    "$or": [
                        {"containers": {"exitCode": [{"anything-but": 0}]}},
                        {"stopCode": ["TaskFailedToStart"]},
                    ],
                },
            ),
            targets=[events_targets.SnsTopic(self.topic)],
        )

    def _missing_backup(self, source: str, window_hours: int) -> None:
        # N hourly periods without a single success: no backup within the window (no data counts).
        self._alarm(
            f"{source}-backup-missing",
            backup_succeeded(source),
            description=f"cloudbackup: no successful backup of {source} for {window_hours} hours",
            threshold=1,
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            periods=window_hours,
            missing=cloudwatch.TreatMissingData.BREACHING,
        )

    def watch_binlog(self, source: str, binlog: lambda_.IFunction, interval_minutes: int) -> None:
        """Archiving falls behind (lag over two intervals) or breaks (no run reported for two)."""
        self._on_any(
            f"{source}-binlog-errors",
            binlog.metric_errors(period=ERROR_PERIOD, statistic="Sum"),
            description=f"cloudbackup: the binlog function of {source} failed",
        )
        self._binlog_behind(source, interval_minutes)

    def watch_binlog_follower(self, source: str, follower: ecs.FargateService, interval_minutes: int) -> None:
        """A fargate source's follower: the same lag alarm (it reports twice a minute while it runs), and
        one when the service has had no running task for two intervals (a task that stops with an error
        reaches the topic through the cluster's task rule)."""
        self._alarm(
            f"{source}-binlog-follower-down",
            running_tasks(follower, interval_minutes),
            description=(
                f"cloudbackup: the binlog follower of {source} has not been running for two intervals "
                f"({2 * interval_minutes} minutes): see the service's events and the task's logs"
            ),
            threshold=1,
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            periods=2,
            missing=cloudwatch.TreatMissingData.BREACHING,
        )
        self._binlog_behind(source, interval_minutes)

    def _binlog_behind(self, source: str, interval_minutes: int) -> None:
        self._alarm(
            f"{source}-binlog-behind",
            binlog_lag(source, interval_minutes),
            description=(
                f"cloudbackup: the archived binary log of {source} is more than two intervals "
                f"({2 * interval_minutes} minutes) behind, or archiving stopped"
            ),
            threshold=2 * interval_minutes * 60,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            periods=2,
            missing=cloudwatch.TreatMissingData.BREACHING,
        )
        if not self._gap_rule:
            events.Rule(
                self,
                "BinlogGapRule",
                description="cloudbackup: forward Binlog Gap events to the alarm topic",
                event_pattern=events.EventPattern(source=[c.EVENT_SOURCE], detail_type=[c.EVENT_BINLOG_GAP]),
                targets=[events_targets.SnsTopic(self.topic)],
            )
            self._gap_rule = True

    def watch_drills(self, source: str, window_days: int) -> None:
        self._on_any(
            f"{source}-drill-failed",
            failures(source, c.METRIC_DRILL_FAILURES),
            description=f"cloudbackup: a restore drill of {source} failed (its event says why)",
        )
        # N daily periods without a proven drill (no data counts): the drills stopped, or never pass.
        self._alarm(
            f"{source}-drill-missing",
            drill_succeeded(source),
            description=f"cloudbackup: no successful restore drill of {source} for {window_days} days",
            threshold=1,
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            periods=window_days,
            missing=cloudwatch.TreatMissingData.BREACHING,
        )

    def watch_dead_letters(self, queue: sqs.IQueue) -> None:
        self._on_any(
            "undelivered-backups",
            queue.metric_approximate_number_of_messages_visible(period=ERROR_PERIOD, statistic="Maximum"),
            description="cloudbackup: scheduled backups undelivered or failed (see the dead-letter queue)",
        )

    def watch_bucket(self, bucket: s3.IBucket) -> events.Rule:
        """Alarm when a backup object is deleted (a prune does this on purpose: the alarm says so)."""
        rule = events.Rule(
            self,
            "BackupDeletedRule",
            description="cloudbackup: a delete marker or a permanent delete in the backup bucket",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=[S3_OBJECT_DELETED],
                detail={
                    "bucket": {"name": [bucket.bucket_name]},
                    "reason": ["DeleteObject"],
                    "deletion-type": DELETION_TYPES,
                },
            ),
        )
        self._on_any(
            "backup-objects-deleted",
            _rule_matches(rule),
            description=(
                "cloudbackup: objects were deleted from the backup bucket (delete markers or versions). "
                "Expected after `cloudbackup prune`; otherwise find who in the bucket's access logs"
            ),
        )
        return rule

    def watch_overwrite_attempts(self, bucket: s3.IBucket) -> events.Rule:
        """Alarm on writes the bucket refused (needs the write-audit trail: CloudTrail data events)."""
        rule = events.Rule(
            self,
            "OverwriteAttemptRule",
            description="cloudbackup: a write to the backup bucket refused (an overwrite attempt)",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["AWS API Call via CloudTrail"],
                detail={
                    "eventSource": ["s3.amazonaws.com"],
                    "eventName": WRITE_EVENTS,
                    "requestParameters": {"bucketName": [bucket.bucket_name]},
                    "errorCode": REFUSED_WRITE_CODES,
                },
            ),
        )
        self._on_any(
            "backup-overwrite-attempts",
            _rule_matches(rule),
            description=(
                "cloudbackup: a write to the backup bucket was refused (no If-None-Match, or the key "
                "exists): someone tried to replace a backup. The CloudTrail records under cloudtrail/ say who"
            ),
        )
        return rule

    def _on_any(self, construct_id: str, metric: cloudwatch.IMetric, *, description: str) -> cloudwatch.Alarm:
        """An alarm on any occurrence in one period (a failure, a refused write, a dead letter); no data is
        no occurrence."""
        return self._alarm(
            construct_id,
            metric,
            description=description,
            threshold=1,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            periods=1,
            missing=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    def _alarm(
        self,
        construct_id: str,
        metric: cloudwatch.IMetric,
        *,
        description: str,
        threshold: float,
        comparison: cloudwatch.ComparisonOperator,
        periods: int,
        missing: cloudwatch.TreatMissingData,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=periods,
            datapoints_to_alarm=periods,
            treat_missing_data=missing,
        )
        alarm.add_alarm_action(self._action)
        return alarm


def _rule_matches(rule: events.Rule) -> cloudwatch.Metric:
    """How many events the rule matched per period (EventBridge's own metric)."""
    return cloudwatch.Metric(
        namespace="AWS/Events",
        metric_name="TriggeredRules",
        dimensions_map={"RuleName": rule.rule_name},
        statistic="Sum",
        period=ERROR_PERIOD,
    )
