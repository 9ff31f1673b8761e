"""Alarm topic, alarms per source, the dead-letter alarm, and the `Backup Failed` rule."""

from __future__ import annotations

from typing import Any

import pytest

from handlers import constants as c
from infra.functions import BACKUP_HANDLER, RESTORE_HANDLER
from tests.infra.conftest import Synth, function_of

pytestmark = pytest.mark.infra


def alarms(synth: Synth) -> list[dict[str, Any]]:
    return [a["Properties"] for a in synth.resources("AWS::CloudWatch::Alarm").values()]


def topic_id(synth: Synth) -> str:
    [topic] = synth.resources("AWS::SNS::Topic")
    return topic


def test_topic_is_encrypted_with_a_key_alarms_and_events_may_use(example: Synth) -> None:
    [topic] = example.resources("AWS::SNS::Topic").values()
    key_id = topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    key = example.json["Resources"][key_id]["Properties"]
    assert key["EnableKeyRotation"] is True
    services = [
        s["Principal"].get("Service")
        for s in key["KeyPolicy"]["Statement"]
        if "kms:GenerateDataKey*" in s["Action"]
    ]
    assert ["cloudwatch.amazonaws.com", "events.amazonaws.com"] in services
    assert not example.resources("AWS::SNS::Subscription")  # no e-mail configured in the example


def test_alarm_email_subscribes_to_the_topic(full: Synth) -> None:
    [subscription] = full.resources("AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == "oncall@example.com"
    assert subscription["Properties"]["TopicArn"] == {"Ref": topic_id(full)}


@pytest.mark.parametrize("handler", [BACKUP_HANDLER, RESTORE_HANDLER])
def test_function_errors_alarm(example: Synth, handler: str) -> None:
    function_id, _ = function_of(example, "orders-db", handler)
    [alarm] = [
        a
        for a in alarms(example)
        if a.get("Dimensions") == [{"Name": "FunctionName", "Value": {"Ref": function_id}}]
    ]
    assert alarm["MetricName"] == "Errors"
    assert alarm["Namespace"] == "AWS/Lambda"
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["Threshold"] == 1
    assert alarm["AlarmActions"] == [{"Ref": topic_id(example)}]


def test_missing_backup_alarm_per_source_uses_the_handlers_metric(full: Synth) -> None:
    for source in full.config.sources:
        [alarm] = [
            a
            for a in alarms(full)
            if a.get("MetricName") == c.METRIC_BACKUP_SUCCEEDED
            and {"Name": c.DIMENSION_SOURCE, "Value": source.name} in a["Dimensions"]
        ]
        assert alarm["Namespace"] == c.DEFAULT_NAMESPACE
        assert {"Name": "service", "Value": c.DEFAULT_SERVICE} in alarm["Dimensions"]
        assert alarm["Statistic"] == "Sum"
        assert alarm["Period"] == 3600
        assert alarm["EvaluationPeriods"] == alarm["DatapointsToAlarm"] == source.backup_window_hours
        assert alarm["ComparisonOperator"] == "LessThanThreshold"
        assert alarm["Threshold"] == 1
        assert alarm["TreatMissingData"] == "breaching"  # no backup at all is the case to catch
        assert alarm["AlarmActions"] == [{"Ref": topic_id(full)}]


def test_dead_letter_queue_alarm(example: Synth) -> None:
    [queue_id] = example.resources("AWS::SQS::Queue")
    [alarm] = [a for a in alarms(example) if a.get("Namespace") == "AWS/SQS"]
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}]
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"


def test_backup_failed_events_are_forwarded_to_the_topic(example: Synth) -> None:
    [rule] = [
        r
        for r in example.resources("AWS::Events::Rule").values()
        if r["Properties"]["EventPattern"]["source"] == [c.EVENT_SOURCE]
    ]
    props = rule["Properties"]
    assert props["EventPattern"] == {"source": [c.EVENT_SOURCE], "detail-type": [c.EVENT_BACKUP_FAILED]}
    assert props["State"] == "ENABLED"
    [target] = props["Targets"]
    assert target["Arn"] == {"Ref": topic_id(example)}
    [policy] = example.resources("AWS::SNS::TopicPolicy").values()
    publishers = [
        s["Principal"]
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s["Action"] == "sns:Publish"
    ]
    assert {"Service": "events.amazonaws.com"} in publishers


def test_deletes_in_the_backup_bucket_raise_an_alarm(example: Synth) -> None:
    # Given S3's own Object Deleted events (delete markers, permanent deletes by an API call, not lifecycle)
    from tests.infra.test_bucket import backup_bucket

    bucket_id, _ = backup_bucket(example)
    [(rule_id, rule)] = [
        (k, v)
        for k, v in example.resources("AWS::Events::Rule").items()
        if v["Properties"]["EventPattern"].get("detail-type") == ["Object Deleted"]
    ]
    assert rule["Properties"]["EventPattern"] == {
        "source": ["aws.s3"],
        "detail-type": ["Object Deleted"],
        "detail": {
            "bucket": {"name": [{"Ref": bucket_id}]},
            "reason": ["DeleteObject"],
            "deletion-type": ["Delete Marker Created", "Permanently Deleted"],
        },
    }
    # Then an alarm fires on the first matched event and notifies the topic
    [alarm] = [
        a for a in alarms(example) if a.get("Dimensions") == [{"Name": "RuleName", "Value": {"Ref": rule_id}}]
    ]
    assert alarm["Namespace"] == "AWS/Events"
    assert alarm["Statistic"] == "Sum"
    assert alarm["Threshold"] == 1
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == [{"Ref": topic_id(example)}]
    assert "prune" in alarm["AlarmDescription"]
