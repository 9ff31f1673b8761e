"""The fields of an EventBridge Scheduler cron expression, checked as Scheduler checks them at deploy time.

`cron(MIN HOUR DOM MONTH DOW YEAR)`: each field a list (`,`) of `*`, a value, a range `A-B`, each with an
optional step `/N`; `?` alone in day-of-month or day-of-week; `L`, `W` and `#` in the day fields. A value
out of its field's range (minute 99, month 13) passes a shape check but fails the deployment, so the
synth refuses it first.
"""

from __future__ import annotations

import calendar
import itertools
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

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

    def values(self, text: str) -> set[int]:
        """The plain values this field's text selects (`*`, values, ranges, steps; not L, W or #)."""
        found: set[int] = set()
        for item in text.split(","):
            span, _, step_text = item.partition("/")
            step = int(step_text) if step_text else 1
            if span == "*":
                first, last = self.low, self.high
            elif re.fullmatch(self.special, item, re.IGNORECASE):
                continue
            else:
                ends = [self.value(part) or 0 for part in span.split("-", 1)]
                first = ends[0]
                # `A-B`: to B; `A/N`: every Nth from A to the field's end; `A`: A alone
                last = ends[1] if len(ends) > 1 else self.high if step_text else first
            # A range written backwards wraps around (FRI-MON)
            ordered = (
                list(range(first, last + 1))
                if first <= last
                else [
                    *range(first, self.high + 1),
                    *range(self.low, last + 1),
                ]
            )
            found.update(ordered[::step])
        return found

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


def _weekday(day: date) -> int:
    """Scheduler's day of week: SUN=1 .. SAT=7."""
    return (day.weekday() + 1) % 7 + 1


def _nearest_weekday(year: int, month: int, wanted: int) -> int | None:
    """The `nW` day: the weekday nearest to day n, within its month."""
    last = calendar.monthrange(year, month)[1]
    if wanted > last:
        return None
    weekday = date(year, month, wanted).weekday()
    if weekday == 5:  # Saturday: the Friday before, or the Monday after on the 1st
        return wanted - 1 if wanted > 1 else wanted + 2
    if weekday == 6:  # Sunday: the Monday after, or the Friday before on the last day
        return wanted + 1 if wanted < last else wanted - 2
    return wanted


def _dom_fires(text: str, day: date) -> bool:
    if text in ("*", "?"):
        return True
    last = calendar.monthrange(day.year, day.month)[1]
    for item in text.upper().split(","):
        if item == "L":
            hit = day.day == last
        elif item == "LW":
            hit = day.day == max(
                d for d in range(last - 6, last + 1) if date(day.year, day.month, d).weekday() < 5
            )
        elif item.startswith("L-"):
            hit = day.day == last - int(item[2:])
        elif item.endswith("W"):
            hit = day.day == _nearest_weekday(day.year, day.month, int(item[:-1]))
        else:
            hit = day.day in FIELDS[2].values(item)
        if hit:
            return True
    return False


def _dow_fires(text: str, day: date) -> bool:
    if text in ("*", "?"):
        return True
    weekday = _weekday(day)
    last = calendar.monthrange(day.year, day.month)[1]
    for item in text.upper().split(","):
        if item == "L":
            hit = weekday == 7
        elif item.endswith("L"):
            hit = weekday == int(item[:-1]) and day.day > last - 7
        elif "#" in item:
            named, nth = item.split("#")
            hit = weekday == FIELDS[4].value(named) and (day.day - 1) // 7 + 1 == int(nth)
        else:
            hit = weekday in FIELDS[4].values(item)
        if hit:
            return True
    return False


def longest_gap(fields: list[str], start: date, days: int) -> timedelta | None:
    """The longest time between two runs of a valid cron expression from `start` on, over `days` days,
    in its own time zone (None: fewer than two runs). Daylight saving moves a run by an hour at most."""
    minute, hour, dom, month, dow, year = fields
    times = sorted(
        timedelta(hours=h, minutes=m) for h in FIELDS[1].values(hour) for m in FIELDS[0].values(minute)
    )
    months, years = FIELDS[3].values(month), FIELDS[5].values(year)
    runs: list[datetime] = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        if day.month in months and day.year in years and _dom_fires(dom, day) and _dow_fires(dow, day):
            midnight = datetime(day.year, day.month, day.day)
            runs += [midnight + t for t in times]
    if len(runs) < 2:
        return None
    return max(later - earlier for earlier, later in itertools.pairwise(runs))
