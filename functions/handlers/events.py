"""Result events on EventBridge (`Backup Succeeded` / `Backup Failed`, `Restore Drill Succeeded` /
`Restore Drill Failed`, source `cloudbackup`)."""

from __future__ import annotations

import json
import logging
from functools import cache
from typing import TYPE_CHECKING

from handlers import constants as c
from handlers.models import DatabaseOutcome, DrillSummary

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

log = logging.getLogger(__name__)


class EventPublisher:
    """Publishes one event per database outcome. A publishing failure is logged, never raised: the
    backup it reports on is already complete (or already failed) and must not be undone by it."""

    def __init__(self, event_bus: str, region: str) -> None:
        self.event_bus = event_bus
        self.region = region

    def backup_outcome(self, source: str, outcome: DatabaseOutcome) -> bool:
        detail_type = c.EVENT_BACKUP_SUCCEEDED if outcome.status == "succeeded" else c.EVENT_BACKUP_FAILED
        detail = {"source": source, **outcome.model_dump(mode="json")}
        return self._put(detail_type, detail)

    def binlog_gap(self, source: str, gap: str) -> bool:
        return self._put(c.EVENT_BINLOG_GAP, {"source": source, "gap": gap})

    def drill_outcome(self, summary: DrillSummary) -> bool:
        detail_type = c.EVENT_DRILL_SUCCEEDED if summary.verified else c.EVENT_DRILL_FAILED
        return self._put(detail_type, summary.model_dump(mode="json"))

    def _put(self, detail_type: str, detail: dict[str, object]) -> bool:
        entry = {
            "Source": c.EVENT_SOURCE,
            "DetailType": detail_type,
            "Detail": json.dumps(detail),
            "EventBusName": self.event_bus,
        }
        try:
            response = _client(self.region).put_events(Entries=[entry])  # type: ignore[list-item]
        except Exception as exc:  # any AWS or network error: report, do not fail the backup
            log.error("could not publish %r to %s: %s", detail_type, self.event_bus, exc)
            return False
        if response.get("FailedEntryCount", 0):
            failed = response["Entries"][0]
            log.error(
                "EventBridge refused %r: %s %s",
                detail_type,
                failed.get("ErrorCode"),
                failed.get("ErrorMessage"),
            )
            return False
        return True


@cache
def _client(region: str) -> EventBridgeClient:
    # boto3 is imported on first use so the handler's cold start does not pay for it up front.
    import boto3

    return boto3.client("events", region_name=region)
