"""The backup and restore functions of one source, each with its own least-privilege role.

Backup may only write its source's backups and read back its own writes (no delete, no listing: it never
lists); restore may read and list them (no write to the bucket). Both read exactly their source's
database secret, run on arm64 with the bundled asset, trace with X-Ray and log to a log group with a
retention. With a drill configured, restore also runs drills: it may read the drill server's secret and
publish drill results.
With `pitr`, a binlog function may list, read and add objects under the source's `_binlog/` only (it
resumes from its own indexes, never deletes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from handlers import constants as c
from infra.config import Functions, Network, Source
from infra.nag import acknowledge_function_role, acknowledge_prefix_scope, acknowledge_runtime
from infra.permissions import Access, statements

RUNTIME = lambda_.Runtime.PYTHON_3_12  # must match bundling.LAMBDA_PLATFORM's Python version
ARCHITECTURE = lambda_.Architecture.ARM_64
BACKUP_HANDLER = "handlers.backup.handler"
RESTORE_HANDLER = "handlers.restore.handler"
BINLOG_HANDLER = "handlers.binlog.handler"
BINLOG_DIR = "_binlog"  # cloudbackup.binlog.segments.BINLOG_DIR
EVENT_BUS = "default"
# Lambda creates and removes its network interfaces itself; these actions take no resource scoping.
_ENI_ACTIONS = [
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
]


_R = logs.RetentionDays
LOG_RETENTION = {
    1: _R.ONE_DAY, 3: _R.THREE_DAYS, 5: _R.FIVE_DAYS, 7: _R.ONE_WEEK, 14: _R.TWO_WEEKS, 30: _R.ONE_MONTH,
    60: _R.TWO_MONTHS, 90: _R.THREE_MONTHS, 120: _R.FOUR_MONTHS, 150: _R.FIVE_MONTHS, 180: _R.SIX_MONTHS,
    365: _R.ONE_YEAR, 400: _R.THIRTEEN_MONTHS, 545: _R.EIGHTEEN_MONTHS, 731: _R.TWO_YEARS,
    1827: _R.FIVE_YEARS, 3653: _R.TEN_YEARS,
}  # fmt: skip


@dataclass(frozen=True)
class Shared:
    """What every source's functions share: the code, the bucket and key, the settings."""

    code: lambda_.Code
    bucket: s3.IBucket
    key: kms.IKey
    prefix: str
    settings: Functions
    binlog_reserved_concurrency: bool = True  # (the config's): one binlog run at a time per source


def asset_ca_path(source: Source) -> str:
    """Where the source's CA file lies inside the asset (handlers.secrets resolves it there)."""
    return f"{c.ASSET_CA_DIR}/{source.name}.pem"


def asset_ca_files(sources: list[Source]) -> dict[str, Path]:
    """The CA files the asset ships: path in the asset -> the config's file."""
    return {asset_ca_path(s): Path(s.ssl_ca) for s in sources if s.ssl_ca}


def source_settings(source: Source) -> str:
    """CLOUDBACKUP_SOURCES for one source (handlers.settings.SourceConfig)."""
    settings: dict[str, Any] = {
        "secret_arn": source.secret_arn,
        "databases": source.databases,
        "restore_allow": list(source.restore_allow),
    }
    if source.restore_secret_arn:
        settings["restore_secret_arn"] = source.restore_secret_arn
    if source.ssl_mode:
        settings["ssl_mode"] = source.ssl_mode
    if source.ssl_ca:
        settings["ssl_ca"] = asset_ca_path(source)
    if source.drill:
        settings["drill"] = True
        if source.drill.secret_arn:
            settings["drill_secret_arn"] = source.drill.secret_arn
    return json.dumps({source.name: settings}, separators=(",", ":"))


def run_environment(shared: Shared, source: Source) -> dict[str, str]:
    """What a backup or restore run reads at start (handlers.settings), as a function or as a task."""
    return {
        c.ENV_BUCKET: shared.bucket.bucket_name,
        c.ENV_PREFIX: shared.prefix,
        c.ENV_KMS_KEY_ID: shared.key.key_arn,
        c.ENV_EVENT_BUS: EVENT_BUS,
        c.ENV_SOURCES: source_settings(source),
        c.ENV_SERVICE: c.DEFAULT_SERVICE,
        c.ENV_NAMESPACE: c.DEFAULT_NAMESPACE,
        "LOG_LEVEL": shared.settings.log_level,
    }


def grant_run_access(
    role: iam.Role,
    access: Access,
    shared: Shared,
    source: Source,
    secret_arn: str,
    *,
    drills: bool = False,
) -> None:
    """The bucket access of one kind of run, and reading (only) its database secret: the source's, or
    for a restore its restore_secret_arn when configured (see Source.secret_for); with `drills` (the
    restore runner of a source with a drill) also the drill server's secret, the source's own if none."""
    for statement in statements(access, shared.bucket, shared.key):
        role.add_to_principal_policy(statement)
    drill = source.drill if drills else None
    drill_secret = (drill.secret_arn or source.secret_arn) if drill else None
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="ReadDatabaseSecret",
            actions=["secretsmanager:GetSecretValue"],
            resources=list(dict.fromkeys(filter(None, [secret_arn, drill_secret]))),
        )
    )
    if source.secret_kms_key_arn:
        role.add_to_principal_policy(
            _decrypt_secret("DecryptDatabaseSecret", source.secret_kms_key_arn, secret_arn)
        )
    if drill and drill.secret_arn and drill.secret_kms_key_arn:
        # The drill server's secret, under a key of its own (Secrets Manager decrypts as the caller)
        role.add_to_principal_policy(
            _decrypt_secret("DecryptDrillSecret", drill.secret_kms_key_arn, drill.secret_arn)
        )


def _decrypt_secret(sid: str, key_arn: str, secret_arn: str) -> iam.PolicyStatement:
    """kms:Decrypt on a secret's customer managed key, through Secrets Manager in the secret's region only."""
    region = secret_arn.split(":")[3]
    return iam.PolicyStatement(
        sid=sid,
        actions=["kms:Decrypt"],
        resources=[key_arn],
        conditions={"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}},
    )


def publish_results_statement(stack: Stack) -> iam.PolicyStatement:
    """Backups publish their outcome on the account's default event bus (handlers.events)."""
    return iam.PolicyStatement(
        sid="PublishResults",
        actions=["events:PutEvents"],
        resources=[stack.format_arn(service="events", resource="event-bus", resource_name=EVENT_BUS)],
    )


def backup_access(shared: Shared, source: Source) -> Access:
    """New keys each run: never lists. It reads an object back when botocore retried a write whose answer
    was lost and S3 says the key is taken (S3Storage._holds): without that read a backup that was stored
    fails. Reading its own backups gives it nothing its database user cannot already read."""
    return Access(prefix=f"{shared.prefix}/{source.name}", read=True, write=True)


def restore_access(shared: Shared, source: Source) -> Access:
    return Access(prefix=f"{shared.prefix}/{source.name}", listing=True, read=True)


def binlog_access(shared: Shared, source: Source) -> Access:
    """Resumes from its own indexes (list, read) and adds segments: under `_binlog/` only, never deletes."""
    return Access(prefix=f"{shared.prefix}/{source.name}/{BINLOG_DIR}", listing=True, read=True, write=True)


class SourceFunctions(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, source: Source, shared: Shared) -> None:
        super().__init__(scope, construct_id)
        self.source = source
        self._shared = shared
        self.backup = self._function(
            "Backup",
            BACKUP_HANDLER,
            backup_access(shared, source),
            f"cloudbackup: scheduled backups of {source.name}",
            source.secret_for("backup"),
        )
        self.restore = self._function(
            "Restore",
            RESTORE_HANDLER,
            restore_access(shared, source),
            f"cloudbackup: on-demand restores of {source.name}",
            source.secret_for("restore"),
        )
        self.binlog: lambda_.Function | None = None
        if source.pitr:
            self.binlog = self._function(
                "Binlog",
                BINLOG_HANDLER,
                binlog_access(shared, source),
                f"cloudbackup: binary log archive of {source.name} for point-in-time restores",
                source.secret_for("backup"),  # a replica's reads, as the backup's
                # One run at a time (two would race for the same next segment; without the reservation,
                # which a new account's concurrency limit refuses, the one that loses stops there), each
                # ending before the next is due: a run stopped by its budget has committed what it read.
                timeout_seconds=max(
                    60, min(shared.settings.timeout_seconds, source.binlog_interval_minutes * 60)
                ),
                one_at_a_time=shared.binlog_reserved_concurrency,
            )
        for function in (self.backup, self.binlog):
            if function is not None:
                function.add_to_role_policy(publish_results_statement(Stack.of(self)))
        if source.drill:  # the restore function runs the drills and publishes their results
            self.restore.add_to_role_policy(publish_results_statement(Stack.of(self)))

    def _function(
        self,
        name: str,
        handler: str,
        access: Access,
        description: str,
        secret_arn: str,
        *,
        timeout_seconds: int | None = None,
        one_at_a_time: bool = False,
    ) -> lambda_.Function:
        settings = self._shared.settings
        log_group = logs.LogGroup(self, f"{name}Logs", retention=LOG_RETENTION[settings.log_retention_days])
        role = iam.Role(
            self,
            f"{name}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=description,
        )
        # The restore function also runs the drills (handlers.drill_run)
        drills = handler == RESTORE_HANDLER and self.source.drill is not None
        grant_run_access(role, access, self._shared, self.source, secret_arn, drills=drills)
        if self.source.network:
            role.add_to_principal_policy(
                iam.PolicyStatement(sid="NetworkInterfaces", actions=_ENI_ACTIONS, resources=["*"])
            )
        function = lambda_.Function(
            self,
            name,
            description=description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=handler,
            code=self._shared.code,
            role=role,
            memory_size=settings.memory_mb,
            timeout=Duration.seconds(timeout_seconds or settings.timeout_seconds),
            reserved_concurrent_executions=1 if one_at_a_time else None,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            environment=self._environment(),
            **self._network(name, self.source.network),
        )
        log_group.grant_write(role)
        acknowledge_prefix_scope(role, self._shared.bucket, access.prefix)
        acknowledge_function_role(role)
        acknowledge_runtime(function)
        return function

    def _environment(self) -> dict[str, str]:
        return run_environment(self._shared, self.source)

    def _network(self, name: str, network: Network | None) -> dict[str, Any]:
        if network is None:
            return {}
        placement = Placement.of(self, name, network)
        return {"vpc": placement.vpc, "vpc_subnets": placement.subnets, "security_groups": placement.groups}


@dataclass(frozen=True)
class Placement:
    """A network from the config as CDK objects: ids only, no lookups, so synth works offline."""

    vpc: ec2.IVpc
    subnets: ec2.SubnetSelection
    groups: list[ec2.ISecurityGroup]

    @classmethod
    def of(cls, scope: Construct, name: str, network: Network) -> Placement:
        vpc = ec2.Vpc.from_vpc_attributes(
            scope, f"{name}Vpc", vpc_id=network.vpc_id, availability_zones=[Stack.of(scope).region]
        )
        subnets = [
            ec2.Subnet.from_subnet_id(scope, f"{name}Subnet{i}", s) for i, s in enumerate(network.subnet_ids)
        ]
        groups = [
            ec2.SecurityGroup.from_security_group_id(scope, f"{name}Sg{i}", g, mutable=False)
            for i, g in enumerate(network.security_group_ids)
        ]
        return cls(vpc=vpc, subnets=ec2.SubnetSelection(subnets=subnets), groups=groups)
