"""A fargate source: its backups and restores as ECS Fargate tasks, scheduled as the functions are."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from handlers import constants as c
from handlers.models import BinlogFollowEvent, parse_event
from infra.config import ConfigError, load_config
from infra.tasks import BASE_IMAGE, BOOTSTRAP, CONTAINER
from tests.infra.conftest import (
    FARGATE_SECRET,
    NETWORK,
    RESTORE_SECRET,
    Synth,
    actions_of,
    example_config,
    fargate_config,
    fargate_pitr_config,
    role_statements,
    synthesize,
)
from tests.infra.event_patterns import matches
from tests.infra.test_bucket import bucket_policy_statements

pytestmark = pytest.mark.infra

SOURCE = "warehouse-db"


@pytest.fixture(scope="module")
def fargate(synth_variant: Callable[[str], Synth]) -> Synth:
    return synth_variant("fargate")


@pytest.fixture(scope="module")
def fargate_pitr(synth_variant: Callable[[str], Synth]) -> Synth:
    return synth_variant("fargate_pitr")


def task_definitions(synth: Synth) -> dict[str, dict[str, Any]]:
    """The fargate source's task definitions by kind ("backup", "restore", "binlog")."""
    found = {}
    for logical_id, resource in synth.resources("AWS::ECS::TaskDefinition").items():
        if logical_id.startswith("Tasks" + SOURCE.replace("-", "")):
            [kind] = [k for k in ("backup", "restore", "binlog") if k.capitalize() in logical_id]
            found[kind] = {"id": logical_id, **resource["Properties"]}
    return found


def container(definition: dict[str, Any]) -> dict[str, Any]:
    [only] = definition["ContainerDefinitions"]
    assert only["Name"] == CONTAINER
    return only


def environment(definition: dict[str, Any]) -> dict[str, Any]:
    return {v["Name"]: v["Value"] for v in container(definition)["Environment"]}


def test_the_tasks_run_the_bootstrap_in_the_public_base_image_on_arm64(fargate: Synth) -> None:
    definitions = task_definitions(fargate)
    assert set(definitions) == {"backup", "restore"}
    for definition in definitions.values():
        # Then: arm64 Fargate with the configured size, the public image, the bootstrap as the command
        assert definition["RequiresCompatibilities"] == ["FARGATE"]
        assert definition["RuntimePlatform"] == {"CpuArchitecture": "ARM64", "OperatingSystemFamily": "LINUX"}
        assert (definition["Cpu"], definition["Memory"]) == ("2048", "8192")
        spec = container(definition)
        assert spec["Image"] == BASE_IMAGE
        assert spec["EntryPoint"] == ["python3", "-c", BOOTSTRAP.read_text()]
        _bucket, _key, sha256 = spec["Command"]
        assert len(sha256) == 64
        assert int(sha256, 16) >= 0
        assert spec["LogConfiguration"]["LogDriver"] == "awslogs"
        env = environment(definition)
        assert json.loads(env[c.ENV_SOURCES])[SOURCE]["secret_arn"].endswith("warehouse-db-Qq1Ww2")
        assert env["POWERTOOLS_TRACE_DISABLED"] == "true"
    # And the backup task's default event is the scheduled one
    assert json.loads(environment(definitions["backup"])[c.ENV_TASK_EVENT]) == {
        "source": SOURCE,
        "databases": ["warehouse"],
    }


def test_the_schedule_starts_the_backup_task_with_its_event(fargate: Synth) -> None:
    backup = task_definitions(fargate)["backup"]
    [schedule] = [
        s["Properties"]
        for s in fargate.resources("AWS::Scheduler::Schedule").values()
        if s["Properties"]["Target"].get("EcsParameters", {}).get("TaskDefinitionArn")
        == {"Ref": backup["id"]}
    ]
    assert schedule["ScheduleExpression"] == "cron(0 1 * * ? *)"
    target = schedule["Target"]
    ecs = target["EcsParameters"]
    assert ecs["TaskDefinitionArn"] == {"Ref": backup["id"]}
    assert ecs["LaunchType"] == "FARGATE"
    network = ecs["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert network["Subnets"] == NETWORK["subnet_ids"]
    assert network["SecurityGroups"] == NETWORK["security_group_ids"]
    assert network["AssignPublicIp"] == "DISABLED"
    overrides = json.loads(target["Input"])
    [override] = overrides["containerOverrides"]
    assert override["name"] == CONTAINER
    assert override["environment"] == [
        {"name": c.ENV_TASK_EVENT, "value": json.dumps({"source": SOURCE, "databases": ["warehouse"]})}
    ]
    # The same retries and dead-letter queue as the function schedules
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 3
    assert "DeadLetterConfig" in target
    # And no Lambda function is made for the fargate source
    for function in fargate.resources("AWS::Lambda::Function").values():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        assert SOURCE not in variables.get(c.ENV_SOURCES, "")


def test_drills_start_the_restore_task_with_the_drill_event(fargate: Synth) -> None:
    restore = task_definitions(fargate)["restore"]
    drills = [
        s["Properties"]
        for s in fargate.resources("AWS::Scheduler::Schedule").values()
        if s["Properties"]["Target"].get("EcsParameters", {}).get("TaskDefinitionArn")
        == {"Ref": restore["id"]}
    ]
    [drill] = drills
    assert drill["ScheduleExpression"] == "cron(0 5 ? * SAT *)"
    [override] = json.loads(drill["Target"]["Input"])["containerOverrides"]
    assert json.loads(override["environment"][0]["value"]) == {
        "source": SOURCE,
        "database": "warehouse",
        "drill": True,
    }
    # And the restore task may publish the drill's outcome and read the secret the drill uses
    role = restore["TaskRoleArn"]["Fn::GetAtt"][0]
    statements = role_statements(fargate, role)
    assert "events:PutEvents" in actions_of(statements)
    [secret] = [s for s in statements if s.get("Sid") == "ReadDatabaseSecret"]
    assert secret["Resource"] == FARGATE_SECRET
    # And the drill alarms watch the source
    alarms = [a["Properties"] for a in fargate.resources("AWS::CloudWatch::Alarm").values()]
    assert {
        a["MetricName"]
        for a in alarms
        if {"Name": c.DIMENSION_SOURCE, "Value": SOURCE} in a.get("Dimensions", [])
    } >= {c.METRIC_DRILL_SUCCEEDED}


def test_task_roles_are_as_narrow_as_the_function_roles(fargate: Synth) -> None:
    definitions = task_definitions(fargate)
    backup_role = definitions["backup"]["TaskRoleArn"]["Fn::GetAtt"][0]
    restore_role = definitions["restore"]["TaskRoleArn"]["Fn::GetAtt"][0]
    backup = actions_of(role_statements(fargate, backup_role))
    restore = actions_of(role_statements(fargate, restore_role))
    # Backup writes and publishes; it cannot list or delete backups
    assert {"s3:PutObject", "events:PutEvents", "secretsmanager:GetSecretValue", "s3:GetObject"} <= backup
    assert not {a for a in backup if "Delete" in a or a.startswith("s3:List")}
    # (its s3:GetObject: the task asset, and the read-back of its own writes, as the backup function's)
    reads = [s for s in role_statements(fargate, backup_role) if "s3:GetObject" in json.dumps(s["Action"])]
    assert sorted(s["Sid"] for s in reads) == ["BackupObjects", "ReadTaskAsset"]
    # Restore reads and lists; it cannot write or delete backups
    assert {"s3:GetObject", "s3:ListBucket"} <= restore
    assert not {a for a in restore if a.startswith("s3:Put") or "Delete" in a}
    assert not {a for a in restore if a.startswith("events:") and a != "events:PutEvents"}


def test_the_execution_role_only_writes_the_task_logs(fargate: Synth) -> None:
    for definition in task_definitions(fargate).values():
        role = definition["ExecutionRoleArn"]["Fn::GetAtt"][0]
        assert actions_of(role_statements(fargate, role)) == {"logs:CreateLogStream", "logs:PutLogEvents"}


def stopped_task(cluster: Any, **detail: Any) -> dict[str, Any]:
    """An `ECS Task State Change` event of a task of `cluster` that stopped (the fields the rule reads)."""
    return {
        "source": "aws.ecs",
        "detail-type": "ECS Task State Change",
        "detail": {"clusterArn": cluster, "lastStatus": "STOPPED", "desiredStatus": "STOPPED", **detail},
    }


def test_a_task_that_stops_with_an_error_reaches_the_alarm_topic(fargate: Synth) -> None:
    rules = [
        r["Properties"]
        for r in fargate.resources("AWS::Events::Rule").values()
        if "aws.ecs" in json.dumps(r["Properties"].get("EventPattern", {}))
    ]
    [rule] = rules
    [topic] = fargate.resources("AWS::SNS::Topic")
    assert [t["Arn"] for t in rule["Targets"]] == [{"Ref": topic}]
    pattern = rule["EventPattern"]
    [cluster] = pattern["detail"]["clusterArn"]
    # A task whose container exited non-zero (a failed run, an out-of-memory kill, a refused asset)
    failed = stopped_task(cluster, stopCode="EssentialContainerExited", containers=[{"exitCode": 1}])
    assert matches(pattern, failed)
    # And one that never started (its image not pulled: no route to public.ecr.aws), whose container
    # has no exit code at all; else a scheduled backup fails unseen until the missing-backup alarm
    never_ran = stopped_task(
        cluster,
        stopCode="TaskFailedToStart",
        stoppedReason="CannotPullContainerError: pull image manifest has been retried 5 time(s)",
        containers=[{"name": CONTAINER, "lastStatus": "STOPPED"}],
    )
    assert matches(pattern, never_ran)
    # But not a task that did its work, nor the follower ECS stops on a deploy (SIGTERM: exit 0)
    assert not matches(
        pattern, stopped_task(cluster, stopCode="EssentialContainerExited", containers=[{"exitCode": 0}])
    )
    assert not matches(
        pattern, stopped_task(cluster, stopCode="ServiceSchedulerInitiated", containers=[{"exitCode": 0}])
    )
    assert not matches(pattern, stopped_task("another-cluster", containers=[{"exitCode": 1}]))
    # And the failure and missing-backup alarms watch the metrics the task emits
    alarms = [a["Properties"] for a in fargate.resources("AWS::CloudWatch::Alarm").values()]
    watched = {
        a["MetricName"]
        for a in alarms
        if {"Name": c.DIMENSION_SOURCE, "Value": SOURCE} in a.get("Dimensions", [])
    }
    assert watched == {
        c.METRIC_BACKUP_FAILURES,
        c.METRIC_BACKUP_SUCCEEDED,
        c.METRIC_DRILL_FAILURES,
        c.METRIC_DRILL_SUCCEEDED,
    }


def test_one_cluster_with_container_insights(fargate: Synth) -> None:
    [cluster] = fargate.resources("AWS::ECS::Cluster").values()
    settings = cluster["Properties"]["ClusterSettings"]
    assert {"Name": "containerInsights", "Value": "enhanced"} in settings or {
        "Name": "containerInsights",
        "Value": "enabled",
    } in settings


def test_a_lambda_only_stack_has_no_cluster(example: Synth) -> None:
    assert example.resources("AWS::ECS::Cluster") == {}
    assert example.resources("AWS::ECS::TaskDefinition") == {}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"runner": "ecs"}, "config.sources[1].runner: Input should be 'lambda' or 'fargate'"),
        ({"network": None}, 'config.sources[1]: runner "fargate" needs network'),
        ({"task": {"cpu": 300, "memory_mib": 1024}}, "config.sources[1].task: cpu must be one of"),
        ({"task": {"cpu": 256, "memory_mib": 8192}}, "memory_mib 8192 does not go with cpu 256"),
    ],
)
def test_a_bad_runner_config_names_the_field(change: dict[str, Any], message: str) -> None:
    raw = fargate_config()
    raw["sources"][1].update(change)
    with pytest.raises(ConfigError) as caught:
        load_config(raw)
    assert message in str(caught.value)


def test_lambda_stays_the_default_runner() -> None:
    assert {s.runner for s in load_config(example_config()).sources} == {"lambda"}


def test_the_restore_task_reads_only_the_restore_secret(tmp_path: Any) -> None:
    raw = fargate_config()
    raw["sources"][1]["restore_secret_arn"] = RESTORE_SECRET
    del raw["sources"][1]["drill"]  # (a drill's restore task also reads the secret the drill uses)
    synth = synthesize(raw, tmp_path)
    definitions = task_definitions(synth)
    secret_reads = {}
    for kind in ("backup", "restore"):
        role = definitions[kind]["TaskRoleArn"]["Fn::GetAtt"][0]
        [read] = [s for s in role_statements(synth, role) if s.get("Sid") == "ReadDatabaseSecret"]
        secret_reads[kind] = read["Resource"]
    assert secret_reads == {"backup": FARGATE_SECRET, "restore": RESTORE_SECRET}


def test_a_pitr_source_follows_its_binlog_with_a_service_of_one_task(fargate_pitr: Synth) -> None:
    definitions = task_definitions(fargate_pitr)
    binlog = definitions["binlog"]
    # Then the follower's task runs the bootstrap with the same asset, in the same image, on arm64,
    # at the follower's own (smallest) size
    spec, backup_spec = container(binlog), container(definitions["backup"])
    assert (spec["Image"], spec["EntryPoint"]) == (BASE_IMAGE, ["python3", "-c", BOOTSTRAP.read_text()])
    assert spec["Command"] == backup_spec["Command"]
    assert binlog["RuntimePlatform"] == {"CpuArchitecture": "ARM64", "OperatingSystemFamily": "LINUX"}
    assert (binlog["Cpu"], binlog["Memory"]) == ("256", "512")
    # and its event is the follower's, which the task parses into its model
    env = environment(binlog)
    follow = parse_event(BinlogFollowEvent, json.loads(env[c.ENV_TASK_EVENT]))
    assert (follow.source, follow.binlog) == (SOURCE, "follow")
    assert json.loads(env[c.ENV_SOURCES])[SOURCE]["secret_arn"] == FARGATE_SECRET
    # And one service keeps exactly one follower running in the source's subnets, never two at once
    [service] = [s["Properties"] for s in fargate_pitr.resources("AWS::ECS::Service").values()]
    assert service["TaskDefinition"] == {"Ref": binlog["id"]}
    assert service["Cluster"] == {"Ref": next(iter(fargate_pitr.resources("AWS::ECS::Cluster")))}
    assert (service["LaunchType"], service["DesiredCount"]) == ("FARGATE", 1)
    deployment = service["DeploymentConfiguration"]
    assert (deployment["MinimumHealthyPercent"], deployment["MaximumPercent"]) == (0, 100)
    assert deployment["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
    network = service["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert network["Subnets"] == NETWORK["subnet_ids"]
    assert network["SecurityGroups"] == NETWORK["security_group_ids"]
    assert network["AssignPublicIp"] == "DISABLED"
    # And no schedule starts the follower, and no binlog function is made for the source
    for schedule in fargate_pitr.resources("AWS::Scheduler::Schedule").values():
        target = schedule["Properties"]["Target"].get("EcsParameters", {})
        assert target.get("TaskDefinitionArn") != {"Ref": binlog["id"]}
    for function in fargate_pitr.resources("AWS::Lambda::Function").values():
        assert SOURCE not in function["Properties"].get("Environment", {}).get("Variables", {}).get(
            c.ENV_SOURCES, ""
        )


def test_the_follower_may_only_add_under_binlog_and_never_delete(fargate_pitr: Synth) -> None:
    binlog = task_definitions(fargate_pitr)["binlog"]
    statements = role_statements(fargate_pitr, binlog["TaskRoleArn"]["Fn::GetAtt"][0])
    by_sid = {s["Sid"]: s for s in statements}
    # Then it lists, reads and adds objects under the source's _binlog/ only (it resumes from its indexes)
    assert set(by_sid["BackupObjects"]["Action"]) == {
        "s3:GetObject",
        "s3:PutObject",
        "s3:AbortMultipartUpload",
    }
    assert "backups/warehouse-db/_binlog/*" in json.dumps(by_sid["BackupObjects"]["Resource"])
    assert by_sid["ListBackups"]["Condition"] == {
        "StringLike": {"s3:prefix": ["backups/warehouse-db/_binlog/*"]}
    }
    # and reads the source's secret, publishes a gap, reads the task asset; nothing more
    assert by_sid["ReadDatabaseSecret"]["Resource"] == FARGATE_SECRET
    assert by_sid["PublishResults"]["Action"] == "events:PutEvents"
    assert set(by_sid) == {
        "ListBackups",
        "BackupObjects",
        "BackupKey",
        "ReadDatabaseSecret",
        "ReadTaskAsset",
        "PublishResults",
    }
    assert not {a for a in actions_of(statements) if "Delete" in a}
    # And its writes are conditional like every other: the bucket denies any write without If-None-Match
    [deny] = [s for s in bucket_policy_statements(fargate_pitr) if s.get("Sid") == "DenyOverwrites"]
    assert (deny["Principal"], deny["Condition"]["Null"]) == ({"AWS": "*"}, {"s3:if-none-match": "true"})
    # And its execution role only writes the follower's log group (the image is public: no ECR rights)
    execution = binlog["ExecutionRoleArn"]["Fn::GetAtt"][0]
    assert actions_of(role_statements(fargate_pitr, execution)) == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }


def test_alarms_fire_when_the_follower_is_not_running_or_falls_behind(fargate_pitr: Synth) -> None:
    alarms = [a["Properties"] for a in fargate_pitr.resources("AWS::CloudWatch::Alarm").values()]
    [service_id] = fargate_pitr.resources("AWS::ECS::Service")
    # Then one alarm watches the service's running tasks (Container Insights): none for two intervals
    [down] = [a for a in alarms if a.get("MetricName") == "RunningTaskCount"]
    assert down["Namespace"] == "ECS/ContainerInsights"
    assert {"Name": "ServiceName", "Value": {"Fn::GetAtt": [service_id, "Name"]}} in down["Dimensions"]
    assert (down["ComparisonOperator"], down["Threshold"]) == ("LessThanThreshold", 1)
    assert (down["Period"], down["EvaluationPeriods"]) == (3 * 60, 2)
    assert down["TreatMissingData"] == "breaching"
    # And the binlog function's lag alarm watches the lag the follower reports
    [behind] = [a for a in alarms if a.get("MetricName") == c.METRIC_BINLOG_LAG]
    assert {"Name": c.DIMENSION_SOURCE, "Value": SOURCE} in behind["Dimensions"]
    assert (behind["Threshold"], behind["Period"], behind["TreatMissingData"]) == (
        2 * 3 * 60,
        180,
        "breaching",
    )
    # And a Binlog Gap reaches the alarm topic; the alarms act on it too
    rules = [r["Properties"]["EventPattern"] for r in fargate_pitr.resources("AWS::Events::Rule").values()]
    assert {"source": [c.EVENT_SOURCE], "detail-type": [c.EVENT_BINLOG_GAP]} in rules
    assert down["AlarmActions"] == behind["AlarmActions"] != []


def test_a_fargate_source_may_have_pitr() -> None:
    [_, source] = load_config(fargate_pitr_config()).sources
    assert (source.runner, source.pitr) == ("fargate", True)
    assert (source.binlog_task.cpu, source.binlog_task.memory_mib) == (256, 512)


@pytest.mark.parametrize(
    ("index", "change", "message"),
    [
        (
            1,
            {"binlog_task": {"cpu": 512, "memory_mib": 1024}},
            "config.sources[1].binlog_task: sizes the binlog",
        ),
        (
            0,
            {"pitr": True, "binlog_task": {"cpu": 256, "memory_mib": 512}},
            "config.sources[0].binlog_task: sizes the binlog follower",
        ),
        (1, {"pitr": True, "binlog_task": {"cpu": 256, "memory_mib": 4096}}, "memory_mib 4096 does not go"),
    ],
)
def test_a_bad_binlog_task_names_the_field(index: int, change: dict[str, Any], message: str) -> None:
    raw = fargate_config()
    raw["sources"][index].update(change)
    with pytest.raises(ConfigError) as caught:
        load_config(raw)
    [line] = str(caught.value).splitlines()
    assert message in line
