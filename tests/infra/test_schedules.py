"""Schedules per source, the dead-letter queue, and the one backup right after deployment."""

from __future__ import annotations

import json
from typing import Any

import pytest

from handlers.models import BackupEvent, parse_event
from infra.functions import BACKUP_HANDLER
from tests.infra.conftest import Synth, function_of

pytestmark = pytest.mark.infra


def schedule_of(synth: Synth, function_id: str) -> dict[str, Any]:
    [schedule] = [
        s["Properties"]
        for s in synth.resources("AWS::Scheduler::Schedule").values()
        if s["Properties"]["Target"]["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    ]
    return schedule


def test_cron_schedule_in_the_sources_time_zone_with_retries_and_dead_letters(example: Synth) -> None:
    function_id, _ = function_of(example, "orders-db", BACKUP_HANDLER)
    schedule = schedule_of(example, function_id)
    assert schedule["ScheduleExpression"] == "cron(15 2 * * ? *)"
    assert schedule["ScheduleExpressionTimezone"] == "Europe/Berlin"
    assert schedule["State"] == "ENABLED"
    target = schedule["Target"]
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 7200, "MaximumRetryAttempts": 3}
    [queue_id] = example.resources("AWS::SQS::Queue")
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue_id, "Arn"]}}


def test_schedule_input_is_a_valid_backup_event(full: Synth) -> None:
    for source in full.config.sources:
        function_id, _ = function_of(full, source.name, BACKUP_HANDLER)
        event = parse_event(BackupEvent, json.loads(schedule_of(full, function_id)["Target"]["Input"]))
        assert event.source == source.name
        assert event.databases == source.databases


def test_rate_schedule_of_the_second_source(full: Synth) -> None:
    function_id, _ = function_of(full, "billing-db", BACKUP_HANDLER)
    schedule = schedule_of(full, function_id)
    assert schedule["ScheduleExpression"] == "rate(6 hours)"
    assert schedule["ScheduleExpressionTimezone"] == "UTC"


def test_dead_letter_queue_is_encrypted_tls_only_and_also_takes_failed_invocations(example: Synth) -> None:
    [(queue_id, queue)] = example.resources("AWS::SQS::Queue").items()
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    [policy] = example.resources("AWS::SQS::QueuePolicy").values()
    [deny] = policy["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    function_id, _ = function_of(example, "orders-db", BACKUP_HANDLER)
    [config] = example.resources("AWS::Lambda::EventInvokeConfig").values()
    props = config["Properties"]
    assert props["FunctionName"] == {"Ref": function_id}
    assert props["MaximumRetryAttempts"] == 1
    assert props["DestinationConfig"] == {"OnFailure": {"Destination": {"Fn::GetAtt": [queue_id, "Arn"]}}}


def test_one_backup_runs_asynchronously_right_after_deployment(example: Synth) -> None:
    function_id, _ = function_of(example, "orders-db", BACKUP_HANDLER)
    invokes = [
        r
        for r in example.resources("Custom::AWS").values()
        if "invoke" in json.dumps(r["Properties"]["Create"])
    ]
    [invoke] = invokes
    parts = invoke["Properties"]["Create"]["Fn::Join"][1]
    assert {"Ref": function_id} in parts
    call = json.loads("".join(p if isinstance(p, str) else "FUNCTION" for p in parts))
    assert call["service"] == "Lambda"
    assert call["parameters"]["InvocationType"] == "Event"
    assert call["parameters"]["FunctionName"] == "FUNCTION"
    event = parse_event(BackupEvent, json.loads(call["parameters"]["Payload"]))
    assert event.source == "orders-db"
    assert "Update" not in invoke["Properties"]  # on creation only, not on every deployment
