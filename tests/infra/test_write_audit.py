"""The write-audit trail and the overwrite-attempt alarm: refused writes to the bucket are alarmed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.infra.conftest import Synth, example_config, synthesize
from tests.infra.test_bucket import backup_bucket
from tests.infra.test_monitoring import alarms, topic_id

pytestmark = pytest.mark.infra


def test_a_trail_records_the_backup_buckets_writes_only(example: Synth) -> None:
    bucket_id, bucket = backup_bucket(example)
    [trail] = example.resources("AWS::CloudTrail::Trail").values()
    props = trail["Properties"]
    every_object = {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/"]]}
    assert props["EventSelectors"] == [
        {
            "DataResources": [{"Type": "AWS::S3::Object", "Values": [every_object]}],
            "IncludeManagementEvents": False,
            "ReadWriteType": "WriteOnly",
        }
    ]
    assert props["IsMultiRegionTrail"] is False
    assert props["EnableLogFileValidation"] is True
    # Into the access-log bucket, whose lifecycle expires the records with the access logs
    assert props["S3BucketName"] == bucket["Properties"]["LoggingConfiguration"]["DestinationBucketName"]
    assert props["S3KeyPrefix"] == "cloudtrail"


def test_a_refused_write_to_the_bucket_raises_an_alarm(example: Synth) -> None:
    bucket_id, _ = backup_bucket(example)
    [(rule_id, rule)] = [
        (k, v)
        for k, v in example.resources("AWS::Events::Rule").items()
        if v["Properties"]["EventPattern"].get("detail-type") == ["AWS API Call via CloudTrail"]
    ]
    assert rule["Properties"]["EventPattern"] == {
        "source": ["aws.s3"],
        "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {
            "eventSource": ["s3.amazonaws.com"],
            "eventName": ["PutObject", "CompleteMultipartUpload", "CopyObject"],
            "requestParameters": {"bucketName": [{"Ref": bucket_id}]},
            "errorCode": ["AccessDenied", "PreconditionFailed"],
        },
    }
    [alarm] = [
        a for a in alarms(example) if a.get("Dimensions") == [{"Name": "RuleName", "Value": {"Ref": rule_id}}]
    ]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/Events", "TriggeredRules")
    assert alarm["Statistic"] == "Sum"
    assert alarm["Threshold"] == 1
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["AlarmActions"] == [{"Ref": topic_id(example)}]


def test_audit_writes_off_means_no_trail_and_no_alarm(tmp_path: Path) -> None:
    raw = example_config()
    raw["audit_writes"] = False
    synth = synthesize(raw, tmp_path)
    assert not synth.resources("AWS::CloudTrail::Trail")
    assert not [a for a in alarms(synth) if "refused" in a.get("AlarmDescription", "")]
    assert synth.error is None
