"""Lambda entry point `handlers.binlog.handler`: archive one source's binary log, on a schedule.

Event: `{"source": "orders-db"}`. Returns the run's summary (events, position, newest event, gap).
"""

from __future__ import annotations

from typing import Any

from handlers.binlog_run import BinlogRun
from handlers.engine import engine_for
from handlers.events import EventPublisher
from handlers.models import BinlogEvent, parse_event
from handlers.observability import Observability
from handlers.settings import load_settings

settings = load_settings()  # at cold start: a deployment mistake stops here with one clear line
observability = Observability(settings)
logger = observability.logger
publisher = EventPublisher(settings.event_bus, settings.region)
engine = engine_for(settings)


@observability.handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = parse_event(BinlogEvent, event)
    run = BinlogRun(
        settings=settings,
        engine=engine,
        publisher=publisher,
        metrics=observability.metrics,
        segment=observability.segment,
        remaining_ms=context.get_remaining_time_in_millis,
    )
    return run.run(request).model_dump(mode="json")
