"""Restore drills as deployed: a schedule per database into the restore function, its role, the
drill server's secret, result publishing, and the alarms on a failed or missing drill."""

from __future__ import annotations

import json
from typing import Any

import pytest

from handlers import constants as c
from handlers.models import DrillEvent, parse_restore_event
from handlers.settings import SourceConfig
from infra.config import ConfigError, load_config
from infra.functions import BACKUP_HANDLER, RESTORE_HANDLER
from tests.infra.conftest import (
    DRILL,
    DRILL_SECRET,
    NETWORK,
    Synth,
    actions_of,
    example_config,
    fargate_config,
    function_of,
    role_statements,
    synthesize,
)
from tests.infra.test_tasks import task_definitions

pytestmark = pytest.mark.infra


def drill_schedules(synth: Synth, function_id: str) -> list[dict[str, Any]]:
    return [
        s["Properties"]
        for s in synth.resources("AWS::Scheduler::Schedule").values()
        if s["Properties"]["Target"]["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    ]


def test_each_listed_database_gets_a_drill_schedule_into_the_restore_function(full: Synth) -> None:
    function_id, _ = function_of(full, "orders-db", RESTORE_HANDLER)
    [schedule] = drill_schedules(full, function_id)
    assert schedule["ScheduleExpression"] == DRILL["schedule"]
    assert schedule["ScheduleExpressionTimezone"] == "Europe/Berlin"
    event = parse_restore_event(json.loads(schedule["Target"]["Input"]))
    assert isinstance(event, DrillEvent)
    assert (event.source, event.database, event.backup) == ("orders-db", "shop", "latest")
    # The schedule's own role may invoke the restore function (and hand undelivered drills to the
    # dead-letter queue), nothing else
    role_id = schedule["Target"]["RoleArn"]["Fn::GetAtt"][0]
    statements = role_statements(full, role_id)
    assert actions_of(statements) == {"lambda:InvokeFunction", "sqs:SendMessage"}
    [invoke] = [s for s in statements if s["Action"] == "lambda:InvokeFunction"]
    assert {"Fn::GetAtt": [function_id, "Arn"]} in invoke["Resource"]


def test_sources_without_a_drill_get_no_drill_schedule(full: Synth, example: Synth) -> None:
    for synth, source in ((full, "billing-db"), (example, "orders-db")):
        function_id, _ = function_of(synth, source, RESTORE_HANDLER)
        assert drill_schedules(synth, function_id) == []


def test_the_restore_function_may_drill_on_the_drill_server_and_publish_results(full: Synth) -> None:
    function_id, function = function_of(full, "orders-db", RESTORE_HANDLER)
    settings = json.loads(function["Properties"]["Environment"]["Variables"][c.ENV_SOURCES])["orders-db"]
    config = SourceConfig.model_validate(settings)
    assert config.drill is True
    assert config.drill_secret_arn == DRILL_SECRET
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = role_statements(full, role_id)
    [secret] = [s for s in statements if s.get("Sid") == "ReadDatabaseSecret"]
    assert DRILL_SECRET in secret["Resource"]
    assert "events:PutEvents" in actions_of(statements)
    assert not {"s3:PutObject", "s3:DeleteObject"} & actions_of(statements)  # still never writes backups
    # A failed drill is not retried: the alarm reports it and the next drill tries again
    [invoke_config] = [
        r["Properties"]
        for r in full.resources("AWS::Lambda::EventInvokeConfig").values()
        if r["Properties"]["FunctionName"] == {"Ref": function_id}
    ]
    assert invoke_config["MaximumRetryAttempts"] == 0


def test_a_restore_function_without_a_drill_cannot_publish_or_read_other_secrets(example: Synth) -> None:
    _, function = function_of(example, "orders-db", RESTORE_HANDLER)
    statements = role_statements(example, function["Properties"]["Role"]["Fn::GetAtt"][0])
    assert "events:PutEvents" not in actions_of(statements)
    [secret] = [s for s in statements if s.get("Sid") == "ReadDatabaseSecret"]
    assert secret["Resource"] == example.config.sources[0].secret_arn


# A drill server in another region whose secret is encrypted with a key of its own
KEYED_DRILL_SECRET = "arn:aws:secretsmanager:us-west-2:123456789012:secret:cloudbackup/drill-Kk7Ll8"
DRILL_SECRET_KEY = "arn:aws:kms:us-west-2:123456789012:key/1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d"


def secret_decrypts(statements: list[dict[str, Any]]) -> list[tuple[Any, Any]]:
    """(key, condition) of every kms:Decrypt the statements allow through Secrets Manager."""
    return [
        (s["Resource"], s["Condition"])
        for s in statements
        if s["Action"] == "kms:Decrypt" and "secretsmanager." in json.dumps(s.get("Condition"))
    ]


def test_a_drill_servers_secret_under_its_own_key_is_decrypted_by_the_drill_runners_only(
    tmp_path: Any,
) -> None:
    # Given a lambda source and a fargate source whose drills read a secret encrypted with a customer key
    raw = fargate_config()
    keyed = {
        "schedule": "rate(7 days)",
        "secret_arn": KEYED_DRILL_SECRET,
        "secret_kms_key_arn": DRILL_SECRET_KEY,
    }
    for source in raw["sources"]:
        source["drill"] = keyed
    # When the stack is synthesized
    synth = synthesize(raw, tmp_path)
    assert synth.error is None
    # Then the restore function and the restore task (which run the drills) may decrypt that secret
    # through Secrets Manager in the secret's region, and the backup function may not
    via = {"StringEquals": {"kms:ViaService": "secretsmanager.us-west-2.amazonaws.com"}}
    _, restore = function_of(synth, "orders-db", RESTORE_HANDLER)
    _, backup = function_of(synth, "orders-db", BACKUP_HANDLER)
    restore_task = task_definitions(synth)["restore"]
    for role in (restore["Properties"]["Role"], restore_task["TaskRoleArn"]):
        statements = role_statements(synth, role["Fn::GetAtt"][0])
        assert secret_decrypts(statements) == [(DRILL_SECRET_KEY, via)]
        [secret] = [s for s in statements if s.get("Sid") == "ReadDatabaseSecret"]
        assert KEYED_DRILL_SECRET in secret["Resource"]
    assert secret_decrypts(role_statements(synth, backup["Properties"]["Role"]["Fn::GetAtt"][0])) == []


def test_alarms_on_a_failed_drill_and_on_no_successful_drill_in_the_window(full: Synth) -> None:
    alarms = [a["Properties"] for a in full.resources("AWS::CloudWatch::Alarm").values()]
    dimensions = [
        {"Name": "service", "Value": c.DEFAULT_SERVICE},
        {"Name": c.DIMENSION_SOURCE, "Value": "orders-db"},
    ]
    [failed] = [a for a in alarms if a.get("MetricName") == c.METRIC_DRILL_FAILURES]
    assert sorted(failed["Dimensions"], key=str) == sorted(dimensions, key=str)
    assert (failed["ComparisonOperator"], failed["Threshold"]) == ("GreaterThanOrEqualToThreshold", 1)
    assert failed["TreatMissingData"] == "notBreaching"
    [missing] = [a for a in alarms if a.get("MetricName") == c.METRIC_DRILL_SUCCEEDED]
    assert missing["Namespace"] == c.DEFAULT_NAMESPACE
    assert sorted(missing["Dimensions"], key=str) == sorted(dimensions, key=str)
    assert (missing["ComparisonOperator"], missing["Threshold"]) == ("LessThanThreshold", 1)
    assert (missing["Period"], missing["EvaluationPeriods"]) == (86400, DRILL["window_days"])
    assert missing["TreatMissingData"] == "breaching"
    [topic] = full.resources("AWS::SNS::Topic")
    assert failed["AlarmActions"] == missing["AlarmActions"] == [{"Ref": topic}]


@pytest.mark.parametrize(
    ("drill", "databases", "named"),
    [
        ({"schedule": "weekly"}, ["shop"], "config.sources[0].drill.schedule: expected"),
        ({"schedule": "rate(7 days)", "window_days": 8}, ["shop"], "config.sources[0].drill.window_days"),
        ({"schedule": "rate(7 days)", "secret_arn": "x"}, ["shop"], "config.sources[0].drill.secret_arn"),
        ({"window_days": 3}, ["shop"], "config.sources[0].drill.schedule: Field required"),
        ({"schedule": "rate(7 days)", "when": 1}, ["shop"], "config.sources[0].drill.when"),
        ({"schedule": "rate(7 days)"}, "*", "config.sources[0]: drill: list the databases to drill"),
        # Each listed database gets a drill schedule: a repeated one would be drilled twice at once
        (
            {"schedule": "rate(7 days)"},
            ["shop", "shop"],
            "config.sources[0].databases: list each database once",
        ),
        # A monthly drill: the "no successful drill" alarm (7 days at most) would fire most of the month
        (
            {"schedule": "cron(0 4 1 * ? *)"},
            ["shop"],
            "config.sources[0].drill.window_days: window_days 7 is shorter than the longest time between "
            "two scheduled runs (31 days of cron(0 4 1 * ? *))",
        ),
        (
            {"schedule": "rate(7 days)", "window_days": 3},
            ["shop"],
            "config.sources[0].drill.window_days: window_days 3",
        ),
        (
            {"schedule": "rate(7 days)", "secret_kms_key_arn": DRILL_SECRET_KEY},
            ["shop"],
            "config.sources[0].drill: secret_kms_key_arn is the key of the drill server's secret_arn",
        ),
        (
            {"schedule": "rate(7 days)", "secret_arn": KEYED_DRILL_SECRET, "secret_kms_key_arn": "alias/x"},
            ["shop"],
            "config.sources[0].drill.secret_kms_key_arn: String should match pattern",
        ),
    ],
)
def test_a_bad_drill_config_fails_the_synth_naming_the_field(
    drill: dict[str, Any], databases: Any, named: str
) -> None:
    raw = example_config()
    if databases == "fargate":
        raw["sources"][0].update(runner="fargate", network=NETWORK)
        databases = ["shop"]
    raw["sources"][0].update(drill=drill, databases=databases)
    with pytest.raises(ConfigError) as raised:
        load_config(raw)
    assert named in str(raised.value)
