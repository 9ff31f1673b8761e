"""How far in time an archived segment is known to reach: every transaction the server committed
before that moment is in it or before it.

An event's header time is the time its session had, and `SET TIMESTAMP` gives a session any time: an
event logged a day ahead would make the archive look as if it reached tomorrow, and a restore to a time
between would leave out what the server committed after it (it is not archived yet). So:
- MySQL writes each transaction's commit time (the server's clock, to the microsecond) in its GTID
  event: those are what a segment reaches. The events in a transaction carry the session's time and
  count for nothing; the server's own events outside transactions (a rotation, a new file) count by
  their header time, as MariaDB's do (FLUSH BINARY LOGS moves the reach on).
- MariaDB has no commit time: every event counts by its header time, unless that time is later than
  when the archiver received the event, which no real commit is (a session's clock set ahead).
- A segment where nothing counts (the middle of a large transaction, every event dated ahead) reaches
  what the segment before it reached: the reach is carried from one segment to the next (not across a gap).
"""

from __future__ import annotations

from cloudbackup.binlog import events as ev

PREVIOUS_GTIDS_MYSQL = 35
BINLOG_CHECKPOINT_MARIADB = 161
GTID_LIST_MARIADB = 163
# Events the server writes of its own, outside any transaction (their time is still the session's that
# caused them, FLUSH BINARY LOGS after SET TIMESTAMP: counted only up to when they were received).
_OUTSIDE_TRANSACTIONS = frozenset(
    {
        ev.STOP,
        ev.ROTATE,
        ev.FORMAT_DESCRIPTION,
        PREVIOUS_GTIDS_MYSQL,
        BINLOG_CHECKPOINT_MARIADB,
        GTID_LIST_MARIADB,
    }
)


class Reach:
    """The reach of the segments read so far, event by event."""

    def __init__(self, flavour: str, carried: float | None) -> None:
        self.commit_times = flavour == "mysql"  # (MySQL 8.0.1+: the supported ones)
        self.value = carried

    def add(self, event: ev.Event, received: float) -> None:
        """`received`: when the archiver read the event (the epoch's seconds): no later than its commit."""
        committed = ev.commit_time(event)
        if committed is not None:
            self._moved_to(committed)
        elif self.commit_times and event.type not in _OUTSIDE_TRANSACTIONS:
            return  # a transaction's event: its time is its session's, its commit time is in its GTID event
        elif event.timestamp <= received:
            self._moved_to(float(event.timestamp))

    def _moved_to(self, moment: float) -> None:
        self.value = moment if self.value is None else max(self.value, moment)
