"""Where a replay may stop by the times transactions were logged with (MariaDB's binlog has no commit
time): only where those times rise with the log's order around the stop time.

The binlog's order is the commit order; a transaction's logged time is its session's (`SET TIMESTAMP`
sets any, and a statement is logged at its start, however long it runs). Around --to-time:
- a transaction logged at or after it, then a later one of the database logged before it: the first
  may have committed before --to-time (logged ahead: stopping there leaves out what came after), or the
  second after it (logged back, or run long: its time says before). Refused.
- a transaction of the database logged before the newest time so far, the last before the stop: it
  committed after that one and before the stop, and whether before --to-time is not known. Refused.
The refusal names the events and the times to restore to instead. Other databases' transactions out
of order are no matter (a restore on the same server logs the replayed rows at their own times).
"""

from __future__ import annotations

from datetime import UTC, datetime

from cloudbackup.errors import OperationError


def _at(stamp: int) -> str:
    return f"{datetime.fromtimestamp(stamp, UTC):%Y-%m-%dT%H:%M:%SZ}"


class StampOrder:
    def __init__(self, stop_at: datetime) -> None:
        self.stop_at = stop_at
        self.newest: tuple[str, int] | None = None  # (file:pos, time) of the newest-logged transaction
        # The first transaction logged before `newest` with none after it logged at or after that time:
        # when it committed is known only to be between them and the next
        self.unbounded: tuple[str, int] | None = None
        self.stop: tuple[str, int] | None = None

    def applied(self, where: str, stamp: int, ours: bool) -> None:
        """A transaction logged before --to-time, replayed (`ours`: it changed the database)."""
        if self.newest is not None and stamp < self.newest[1]:
            if ours:
                self.unbounded = self.unbounded or (where, stamp)
        else:  # (committed after those before it, and logged before --to-time: bounds them)
            self.newest, self.unbounded = (where, stamp), None

    def stopped(self, where: str, stamp: int) -> None:
        """The replay stops at this transaction, logged at or after --to-time."""
        self.stop = (where, stamp)
        if self.unbounded is not None and self.newest is not None:
            self._refuse(
                f"the transaction at {self.unbounded[0]} is logged at {_at(self.unbounded[1])}, before the "
                f"one at {self.newest[0]} ({_at(self.newest[1])}) committed ahead of it, and the next at "
                f"{where} at {_at(stamp)}",
                self.unbounded[1],
                stamp,
            )

    def after_stop(self, where: str, stamp: int) -> None:
        """A transaction of the database after the one the replay stopped at (read, not replayed)."""
        assert self.stop is not None
        if stamp < self.stop_at.timestamp():
            self._refuse(
                f"the transaction at {self.stop[0]} is logged at {_at(self.stop[1])} and the later one at "
                f"{where} at {_at(stamp)}",
                stamp,
                self.stop[1],
            )

    def _refuse(self, what: str, earlier: int, later: int) -> None:
        raise OperationError(
            f"the binlog's event times are not in commit order around --to-time {self.stop_at.isoformat()}: "
            f"{what}; which transactions committed before --to-time is not known (a session's SET TIMESTAMP, "
            f"or a long statement, logged at its start); nothing was published; restore to {_at(earlier)} or "
            f"earlier, or to {_at(later + 1)} or later"
        )
