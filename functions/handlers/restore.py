"""Lambda entry point `handlers.restore.handler`: an on-demand restore, e.g. from a console test event,
or a restore drill, e.g. from its schedule.

Event: `{"source": "orders-db", "database": "shop", "backup": "latest", "target_database": "shop_restored"}`
or `"in_place": true`; optional `"tables": [...]` and `"dry_run": true`. A drill:
`{"source": "orders-db", "database": "shop", "drill": true}`. Returns a JSON summary.
"""

from __future__ import annotations

from typing import Any

from handlers.restore_or_drill import run_restore_or_drill
from handlers.runtime import Runtime

runtime = Runtime.start()  # at cold start: a deployment mistake stops here with one clear line
logger = runtime.observability.logger


@runtime.observability.handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    summary = run_restore_or_drill(event, runtime, context.get_remaining_time_in_millis)
    return summary.model_dump(mode="json")
