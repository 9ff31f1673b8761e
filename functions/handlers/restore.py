"""Lambda entry point `handlers.restore.handler`: an on-demand restore, e.g. from a console test event,
or a restore drill, e.g. from its schedule.

Event: `{"source": "orders-db", "database": "shop", "backup": "latest", "target_database": "shop_restored"}`
or `"in_place": true`; optional `"tables": [...]` and `"dry_run": true`. A drill:
`{"source": "orders-db", "database": "shop", "drill": true}`. Returns a JSON summary.
"""

from __future__ import annotations

from typing import Any

from handlers.engine import engine_for
from handlers.events import EventPublisher
from handlers.observability import Observability
from handlers.restore_or_drill import run_restore_or_drill
from handlers.settings import load_settings

settings = load_settings()  # at cold start: a deployment mistake stops here with one clear line
observability = Observability(settings)
logger = observability.logger
publisher = EventPublisher(settings.event_bus, settings.region)
engine = engine_for(settings)


@observability.handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    summary = run_restore_or_drill(
        event,
        settings=settings,
        engine=engine,
        publisher=publisher,
        metrics=observability.metrics,
        segment=observability.segment,
        remaining_ms=context.get_remaining_time_in_millis,
    )
    return summary.model_dump(mode="json")
