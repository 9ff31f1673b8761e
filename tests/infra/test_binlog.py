"""Point-in-time recovery deployed: a binlog function per `pitr` source, its schedule, role and alarms."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from handlers import constants as c
from handlers.models import BinlogEvent, parse_event
from infra.config import check_schedule, load_config
from infra.functions import BINLOG_HANDLER
from infra.schedules import binlog_schedule_expression
from tests.infra.conftest import (
    Synth,
    actions_of,
    example_config,
    full_config,
    function_of,
    role_statements,
    synthesize,
)
from tests.infra.test_schedules import schedule_of

pytestmark = pytest.mark.infra


def test_only_a_pitr_source_gets_a_binlog_function(full: Synth, example: Synth) -> None:
    handlers = [f["Properties"]["Handler"] for f in full.resources("AWS::Lambda::Function").values()]
    assert handlers.count(BINLOG_HANDLER) == 1
    function_of(full, "billing-db", BINLOG_HANDLER)
    assert all(
        f["Properties"].get("Handler") != BINLOG_HANDLER
        for f in example.resources("AWS::Lambda::Function").values()
    )


def test_the_binlog_role_may_add_only_under_binlog_and_never_delete(full: Synth) -> None:
    _, function = function_of(full, "billing-db", BINLOG_HANDLER)
    statements = role_statements(full, function["Properties"]["Role"]["Fn::GetAtt"][0])
    s3 = [s for s in statements if any(str(a).startswith("s3:") for a in _actions(s))]
    assert actions_of(s3) == {"s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"}
    for statement in s3:
        scope = json.dumps(statement.get("Resource")) + json.dumps(statement.get("Condition", {}))
        assert "backups/billing-db/_binlog/*" in scope, statement
    assert not any(a.startswith("s3:Delete") for a in actions_of(statements))


def test_the_binlog_schedule_runs_every_interval_with_a_valid_event(full: Synth) -> None:
    function_id, _ = function_of(full, "billing-db", BINLOG_HANDLER)
    schedule = schedule_of(full, function_id)
    assert schedule["ScheduleExpression"] == "rate(4 minutes)"
    event = parse_event(BinlogEvent, json.loads(schedule["Target"]["Input"]))
    assert event.source == "billing-db"
    assert "DeadLetterConfig" in schedule["Target"]


def test_an_alarm_fires_when_the_archive_is_two_intervals_behind_or_silent(full: Synth) -> None:
    [alarm] = [
        a["Properties"]
        for a in full.resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == c.METRIC_BINLOG_LAG
    ]
    assert alarm["Threshold"] == 2 * 4 * 60
    assert alarm["Period"] == 240
    assert alarm["EvaluationPeriods"] == 2
    assert alarm["TreatMissingData"] == "breaching"
    assert {"Name": c.DIMENSION_SOURCE, "Value": "billing-db"} in alarm["Dimensions"]
    rules = [r["Properties"]["EventPattern"] for r in full.resources("AWS::Events::Rule").values()]
    assert {"source": [c.EVENT_SOURCE], "detail-type": [c.EVENT_BINLOG_GAP]} in rules


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def test_binlog_runs_one_at_a_time_and_end_before_the_next_is_due(full: Synth) -> None:
    _, function = function_of(full, "billing-db", BINLOG_HANDLER)
    assert function["Properties"]["ReservedConcurrentExecutions"] == 1
    assert function["Properties"]["Timeout"] == 4 * 60  # not the 600 s of the other functions


def test_binlog_runs_without_a_reservation_when_the_account_cannot_spare_one(tmp_path: Path) -> None:
    # Given the full config (a pitr source) in an account whose concurrency limit is a new account's 10
    raw = full_config()
    raw["binlog_reserved_concurrency"] = False
    # When it is synthesized
    synth = synthesize(raw, tmp_path)
    # Then the binlog function reserves nothing (Lambda refuses a reservation that leaves fewer than 10
    # unreserved), keeps its timeout within the interval, and the synth's checks pass
    _, function = function_of(synth, "billing-db", BINLOG_HANDLER)
    assert "ReservedConcurrentExecutions" not in function["Properties"]
    assert function["Properties"]["Timeout"] == 4 * 60
    assert synth.error is None


def test_a_one_minute_interval_is_a_rate_scheduler_accepts() -> None:
    # Given a pitr source archiving every minute (the shortest interval the config allows)
    raw = copy.deepcopy(example_config())
    raw["sources"][0].update(pitr=True, binlog_interval_minutes=1)
    source = load_config(raw).sources[0]
    # When its binlog schedule's expression is made
    expression = binlog_schedule_expression(source).expression_string
    # Then it is one Scheduler takes (a value of 1 takes the singular unit), as the config's own check says
    assert expression == "rate(1 minute)"
    assert check_schedule(expression) == expression
