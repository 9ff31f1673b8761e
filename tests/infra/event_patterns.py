"""EventBridge's event-pattern matching, as far as the stack's rules use it, to try rules on sample events.

A field's list of values matches when any of them matches the event's value (any element of an array);
a nested pattern matches any object of an array; `anything-but`, `exists` and `prefix` as EventBridge
reads them; `$or` matches when one of its patterns does. A field the event lacks matches only
`{"exists": false}`.
"""

from __future__ import annotations

from typing import Any

_MISSING = object()


def matches(pattern: dict[str, Any], event: Any) -> bool:
    for field, wanted in pattern.items():
        if field == "$or":
            if not any(matches(option, event) for option in wanted):
                return False
            continue
        value = event.get(field, _MISSING) if isinstance(event, dict) else _MISSING
        if isinstance(wanted, dict):
            objects = value if isinstance(value, list) else [value]
            if not any(isinstance(o, dict) and matches(wanted, o) for o in objects):
                return False
        elif not any(_value_matches(rule, value) for rule in wanted):
            return False
    return True


def _value_matches(rule: Any, value: Any) -> bool:
    if isinstance(rule, dict) and "exists" in rule:
        return rule["exists"] is (value is not _MISSING)
    if value is _MISSING:
        return False
    values = value if isinstance(value, list) else [value]
    if isinstance(rule, dict) and "anything-but" in rule:
        refused = rule["anything-but"]
        refused = refused if isinstance(refused, list) else [refused]
        return any(v not in refused for v in values)
    if isinstance(rule, dict) and "prefix" in rule:
        return any(isinstance(v, str) and v.startswith(rule["prefix"]) for v in values)
    return rule in values
