"""Lambda entry point `handlers.binlog.handler`: archive one source's binary log, on a schedule.

Event: `{"source": "orders-db"}`. Returns the run's summary (events, position, newest event, gap).
"""

from __future__ import annotations

from typing import Any

from handlers.binlog_run import BinlogRun
from handlers.models import BinlogEvent, parse_event
from handlers.runtime import Runtime

runtime = Runtime.start()  # at cold start: a deployment mistake stops here with one clear line
logger = runtime.observability.logger


@runtime.observability.handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = parse_event(BinlogEvent, event)
    run = BinlogRun.of(runtime, context.get_remaining_time_in_millis)
    return run.run(request).model_dump(mode="json")
