"""The restore function running a restore drill as its schedule invokes it, against the real database
server and a local AWS endpoint: the summary, the result event and the metrics the alarms watch."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from cloudbackup.catalog import list_backups
from cloudbackup.dburl import DbSettings
from handlers import constants as c
from handlers.drill_run import DrillFailed
from handlers.models import InvalidEvent
from tests.fixtures.lambda_runtime import Deployment, emitted_metrics
from tests.integration.drill_helpers import make_store_db
from tests.integration.restore_helpers import schemas_like

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore:No application metrics")]


def with_drill(deployment: Deployment, **extra: Any) -> dict[str, str]:
    source = {"secret_arn": deployment.secret_arn, "databases": "*", "drill": True, **extra}
    return {c.ENV_SOURCES: json.dumps({deployment.source: source})}


@pytest.fixture
def drilled(deployment: Deployment, make_database: Callable[[str], str], db_settings: DbSettings) -> str:
    name = make_database("hdrill")
    make_store_db(db_settings, name)
    deployment.backup({"source": deployment.source, "databases": [name]})
    deployment.received_events(1)  # the backup's own event
    return name


def test_a_drill_event_restores_proves_reports_and_leaves_nothing(
    deployment: Deployment, drilled: str, db_settings: DbSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    event = {"source": deployment.source, "database": drilled, "drill": True}
    summary = deployment.restore(event, **with_drill(deployment))
    assert summary["verified"] is True
    assert (summary["database"], summary["tables"], summary["target"]) == (drilled, 3, "source")
    assert summary["restore_seconds"] > 0
    [received] = deployment.received_events(1)
    assert received["detail-type"] == c.EVENT_DRILL_SUCCEEDED
    assert received["detail"]["backup_id"] == summary["backup_id"]
    doc = next(d for d in emitted_metrics(capsys.readouterr().out) if c.METRIC_DRILL_SUCCEEDED in d)
    assert doc[c.DIMENSION_SOURCE] == deployment.source
    assert doc[c.METRIC_DRILL_SUCCEEDED] == [1.0]
    assert doc[c.METRIC_DRILL_RESTORE_SECONDS][0] > 0
    assert c.METRIC_DRILL_FAILURES not in doc
    assert schemas_like(db_settings, drilled) == [drilled]


def test_a_damaged_backup_fails_the_drill_with_an_event_and_a_failure_metric(
    deployment: Deployment, drilled: str, db_settings: DbSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    [entry] = list_backups([deployment.store()], database=drilled, source=deployment.source)
    key = f"{deployment.prefix}/{entry.manifest.data.key}"
    s3 = deployment.aws("s3")
    data = bytearray(s3.get_object(Bucket=deployment.bucket, Key=key)["Body"].read())
    data[len(data) // 2] ^= 0xFF
    s3.put_object(Bucket=deployment.bucket, Key=key, Body=bytes(data))
    with pytest.raises(DrillFailed) as raised:
        deployment.restore(
            {"source": deployment.source, "database": drilled, "drill": True}, **with_drill(deployment)
        )
    assert "\n" not in str(raised.value)
    assert "SHA-256" in str(raised.value)
    [received] = deployment.received_events(1)
    assert received["detail-type"] == c.EVENT_DRILL_FAILED
    assert received["detail"]["verified"] is False
    assert "SHA-256" in received["detail"]["error"]
    doc = next(d for d in emitted_metrics(capsys.readouterr().out) if c.METRIC_DRILL_FAILURES in d)
    assert doc[c.METRIC_DRILL_FAILURES] == [1.0]
    assert schemas_like(db_settings, drilled) == [drilled]


def test_a_scheduled_drill_fails_when_the_newest_backup_cannot_restore(
    deployment: Deployment, drilled: str, db_settings: DbSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a second backup whose data object was cut short: the catalog refuses it
    deployment.backup({"source": deployment.source, "databases": [drilled]})
    deployment.received_events(1)
    newest = list_backups([deployment.store()], database=drilled, source=deployment.source)[0]
    key = f"{deployment.prefix}/{newest.manifest.data.key}"
    s3 = deployment.aws("s3")
    s3.put_object(Bucket=deployment.bucket, Key=key, Body=b"cut short")
    # When the scheduled drill of the latest backup runs
    with pytest.raises(DrillFailed) as raised:
        deployment.restore(
            {"source": deployment.source, "database": drilled, "drill": True}, **with_drill(deployment)
        )
    # Then it fails (event and failure metric, for the alarm), naming the newest backup, and not
    # as a success of the older one
    assert "\n" not in str(raised.value)
    assert newest.id in str(raised.value)
    [received] = deployment.received_events(1)
    assert received["detail-type"] == c.EVENT_DRILL_FAILED
    doc = next(d for d in emitted_metrics(capsys.readouterr().out) if c.METRIC_DRILL_FAILURES in d)
    assert doc[c.METRIC_DRILL_FAILURES] == [1.0]
    assert schemas_like(db_settings, drilled) == [drilled]


def test_a_drill_is_refused_for_a_source_without_one_and_for_a_bad_event(
    deployment: Deployment, drilled: str
) -> None:
    with pytest.raises(InvalidEvent, match=r"drill: source .* has no restore drill configured"):
        deployment.restore({"source": deployment.source, "database": drilled, "drill": True})
    with pytest.raises(InvalidEvent, match="drill: Input should be True"):
        deployment.restore(
            {"source": deployment.source, "database": drilled, "drill": False}, **with_drill(deployment)
        )
    assert deployment.received_events(0, timeout=2) == []


def test_with_a_drill_server_the_drill_reads_only_its_secret(deployment: Deployment, drilled: str) -> None:
    # Given a source whose own secret cannot be read, and a drill server's secret that can
    missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:cbt-no-such-secret-AbCdEf"
    sources = {
        deployment.source: {"secret_arn": missing, "drill": True, "drill_secret_arn": deployment.secret_arn}
    }
    # When a drill runs; Then it ran on the drill server
    summary = deployment.restore(
        {"source": deployment.source, "database": drilled, "drill": True},
        **{c.ENV_SOURCES: json.dumps(sources)},
    )
    assert summary["verified"] is True
    assert summary["target"] == "drill"
