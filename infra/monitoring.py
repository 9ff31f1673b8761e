"""Who hears about a problem: an SNS topic (+ e-mail), alarms, and the `Backup Failed` events.

Alarms per source: either function failing, and no successful backup within the expected window
(the backup handler emits BackupSucceeded with the dimensions service and source). One more alarm
watches the dead-letter queue of undelivered or failed scheduled backups.
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
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from handlers import constants as c

ERROR_PERIOD = Duration.minutes(5)


def backup_succeeded(source: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=c.DEFAULT_NAMESPACE,
        metric_name=c.METRIC_BACKUP_SUCCEEDED,
        dimensions_map={"service": c.DEFAULT_SERVICE, c.DIMENSION_SOURCE: source},
        statistic="Sum",
        period=Duration.hours(1),
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
            self._alarm(
                f"{source}-{kind}-errors",
                function.metric_errors(period=ERROR_PERIOD, statistic="Sum"),
                description=f"cloudbackup: the {kind} function of {source} failed",
                threshold=1,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                periods=1,
                missing=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
        self._missing_backup(source, window_hours)

    def watch_task_source(self, source: str, window_hours: int) -> None:
        """A fargate source: its runs count failures themselves (no function error metric to watch)."""
        self._alarm(
            f"{source}-backup-failures",
            failures(source, c.METRIC_BACKUP_FAILURES),
            description=f"cloudbackup: a backup task of {source} failed to back up a database",
            threshold=1,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            periods=1,
            missing=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self._missing_backup(source, window_hours)

    def watch_cluster(self, cluster: ecs.ICluster) -> None:
        """A task that stopped with a non-zero exit (a crash, an out-of-memory kill, a refused asset) may
        have counted nothing: ECS's own task state events go to the alarm topic."""
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
                    "containers": {"exitCode": [{"anything-but": 0}]},
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

    def watch_dead_letters(self, queue: sqs.IQueue) -> None:
        self._alarm(
            "undelivered-backups",
            queue.metric_approximate_number_of_messages_visible(period=ERROR_PERIOD, statistic="Maximum"),
            description="cloudbackup: scheduled backups undelivered or failed (see the dead-letter queue)",
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
