"""The fields of an EventBridge Scheduler cron expression, checked as Scheduler checks them at deploy time.

`cron(MIN HOUR DOM MONTH DOW YEAR)`: each field a list (`,`) of `*`, a value, a range `A-B`, each with an
optional step `/N`; `?` alone in day-of-month or day-of-week; `L`, `W` and `#` in the day fields. A value
out of its field's range (minute 99, month 13) passes a shape check but fails the deployment, so the
synth refuses it first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


@dataclass(frozen=True)
class CronField:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # spelled values, numbered from `low`
    special: str = r"(?!)"  # the items only this field knows (`L`, `15W`, `6#3`)

    def value(self, text: str) -> int | None:
        upper = text.upper()
        if upper in self.names:
            return self.low + self.names.index(upper)
        return int(text) if text.isdigit() else None

    def problem(self, text: str) -> str | None:
        """What Scheduler would refuse in this field, or None."""
        for item in text.split(","):
            if re.fullmatch(self.special, item, re.IGNORECASE):
                continue
            span, _, step = item.partition("/")
            if step and not (step.isdigit() and int(step) >= 1):
                return f"{self.name} step {step!r} is not a positive number"
            if span == "*":
                continue
            values = [self.value(part) for part in span.split("-", 1)]
            if None in values:
                return f"{self.name} {item!r} is not {self._expected()}"
            if any(not self.low <= v <= self.high for v in values if v is not None):
                return f"{self.name} {item!r} is outside {self.low}..{self.high}"
        return None

    def _expected(self) -> str:
        spelled = f" or {self.names[0]}..{self.names[-1]}" if self.names else ""
        return f"*, a number {self.low}..{self.high}{spelled}, a range or a list"


FIELDS = (
    CronField("minute", 0, 59),
    CronField("hour", 0, 23),
    CronField("day-of-month", 1, 31, special=r"L|LW|L-(?:[1-9]|[12]\d|30)|(?:[1-9]|[12]\d|3[01])W"),
    CronField("month", 1, 12, MONTHS),
    CronField(
        "day-of-week", 1, 7, WEEKDAYS, special=r"L|[1-7]L|[1-7]#[1-5]|(?:SUN|MON|TUE|WED|THU|FRI|SAT)#[1-5]"
    ),
    CronField("year", 1970, 2199),
)


def cron_problem(fields: list[str]) -> str | None:
    """The first field of the six Scheduler would refuse (`?` already checked by the caller)."""
    for field, text in zip(FIELDS, fields, strict=True):
        if text == "?" and field.name in ("day-of-month", "day-of-week"):
            continue
        problem = field.problem(text)
        if problem:
            return problem
    return None
