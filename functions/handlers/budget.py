"""The invocation's time budget as a restore or a drill keeps it: it does not start, or stops at the
engine's next safe point, once less than CLOUDBACKUP_SAFETY_MARGIN_SECONDS of the invocation is left.

Lambda kills an invocation at its timeout without a word: a restore killed mid-load reports nothing and
leaves its staging database behind. Stopping a margin early leaves the time to drop it and to say why.
The engine knows nothing of Lambda: it is handed `should_stop` and raises Stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cloudbackup.errors import Stopped

# Where a run that needs more than one invocation can go instead.
ELSEWHERE = "run it as a Fargate restore task or with the cloudbackup CLI, which have no time limit"


@dataclass
class TimeBudget:
    remaining_ms: Callable[[], int]  # the Lambda context's get_remaining_time_in_millis
    margin_seconds: float
    ran_out: bool = False

    def should_stop(self) -> bool:
        """True from the first look that finds less than the margin left (the engine's stop hook)."""
        self.ran_out = self.ran_out or self.remaining_ms() <= self.margin_seconds * 1000
        return self.ran_out

    def start(self, what: str) -> None:
        """Refuse to start `what` with less than the margin left: it could not finish."""
        if self.should_stop():
            raise Stopped(f"{what} not started")

    def explain(self, exc: Exception) -> str | None:
        """The one-line failure of a run the budget stopped; None when something else ended it."""
        if not (self.ran_out and isinstance(exc, Stopped)):
            return None
        return f"time budget: less than {self.margin_seconds:g} s of the invocation left; {exc}; {ELSEWHERE}"
