"""Lambda entry point `handlers.backup.handler`: the scheduled backup of one source's databases.

Event: `{"source": "orders-db", "databases": ["shop"]}` (or `"*"`). Returns the run's summary; fails
the invocation (so retries and alarms see it) unless every database was backed up.
"""

from __future__ import annotations

from typing import Any

from handlers.backup_run import BackupRun
from handlers.models import BackupEvent, parse_event
from handlers.runtime import Runtime

runtime = Runtime.start()  # at cold start: a deployment mistake stops here with one clear line
logger = runtime.observability.logger


@runtime.observability.handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = parse_event(BackupEvent, event)
    run = BackupRun.of(runtime, context.get_remaining_time_in_millis)
    return run.run(request).model_dump(mode="json")
