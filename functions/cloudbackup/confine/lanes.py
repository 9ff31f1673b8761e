"""The check before loading in two lanes: big row statements are read by a second process.

Why: the check before a restore loads anything is pure CPU (split the stream, then read every
values list with a regex), Python's regex holds the GIL, and the server waits idle meanwhile. A row
statement's verdict depends only on its bytes and the quote modes in force (check.Confinement._rows)
and it changes no state, so it may be read anywhere, as long as a refusal still names the first
refused statement. This process splits the stream and checks every other statement in order; of the
row statements of LANE_MIN_BYTES or more, all but every READ_HERE_EVERY-th go, with their number, line
and quote modes, to a child
(`python -m cloudbackup.confine.lanes`) that sends back the digests it accepted
(Confinement.accepted_rows), with the literals' kinds it proved of them for the loader
(mysql/literals.py), or the first statement it refused. Nothing counts as checked until the
child has answered for everything it was sent.

A big row statement is also split on trust: from its start to the next `;` and newline, without the
regex read (split_statements' `known`). The child's acceptance proves that split right: the values
grammar it accepted allows no `;` and no comment outside strings, so the lexer would end the
statement at that `;` too. Any refusal in such a pass may come from a wrong split (a `;` and newline
inside a string: what follows is then read inside out, and may also name a second database, or open a
comment or change the delimiter so that the next end is far away, which is why a statement is not read
on in memory past TRUSTED_MAX_STATEMENT_BYTES in such a pass). So the whole check then runs again in
one lane, reading everything, which names the first refused statement exactly; nothing has changed
meanwhile.

Over the child's stdin: a line naming the file (for messages), then per statement a header (number,
line, quote-mode flags, length) and its bytes; a zero header ends. Over its stdout, JSON lines: a
refusal as soon as one is found, and at the end the accepted digests and kinds.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import select
import signal
import struct
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import IO, NamedTuple

from cloudbackup.confine.check import Confinement, Refused, is_row_statement
from cloudbackup.confine.lane_start import lane_process, lanes_help
from cloudbackup.errors import OperationError, UsageError
from cloudbackup.mysql.literals import Kinds
from cloudbackup.mysql.load import too_long
from cloudbackup.mysql.splitter import QuoteModes, Statement, StatementTooLong, split_statements

LANE_MIN_BYTES = 64 << 10  # smaller statements cost more to hand over than to read here
# A pass that splits on trust reads no statement longer than this (a dump's are ~1 MiB; a longer one
# only costs the check a second read, in one lane)
TRUSTED_MAX_STATEMENT_BYTES = 64 << 20
PIPE_BYTES = 1 << 20  # room for a whole statement in the pipe, so neither side waits on the other
_HEADER = struct.Struct("<QQBQ")
_BACKSLASH_ESCAPES, _ANSI_QUOTES = 1, 2
# Every this many big row statements, the parent reads one itself: as each is read the loader's way
# (Confinement._rows), the child's work then about matches the parent's splitting and reading. (Pass
# times of 72 MB of plain rows and of 210 MB with escapes in every row, with 2, 3, 4 or no statement
# read here: 0.59 / 0.56 / 0.60 / 0.67 s and 2.03–2.21 / 2.28–2.47 / 2.38 / 2.51 s.)
READ_HERE_EVERY = 2
_HEAD_BYTES = 16  # enough to see INSERT or REPLACE


class Accepted(NamedTuple):
    """What the child accepted: the big row statements' keys (Confinement.accepted_rows), and the
    literals' kinds it proved of them (Confinement.row_kinds)."""

    digests: set[bytes]
    row_kinds: dict[bytes, Kinds]


class RowLane:
    """The child process and what was sent to it."""

    def __init__(self, where: str) -> None:
        self._child = lane_process()  # (started ahead by the restore command when it knew: lane_start.py)
        assert self._child.stdin is not None
        assert self._child.stdout is not None
        self._to, self._from = self._child.stdin, self._child.stdout
        set_pipe_size = getattr(fcntl, "F_SETPIPE_SZ", None)  # Linux only
        with contextlib.suppress(OSError):  # a smaller pipe only means more waiting
            if set_pipe_size is not None:
                fcntl.fcntl(self._to.fileno(), set_pipe_size, PIPE_BYTES)
        self._to.write(json.dumps(where).encode() + b"\n")
        self._verdicts: tuple[Accepted, Refused | None] | None = None

    @property
    def pid(self) -> int:
        return self._child.pid

    def take(self, stmt: Statement, modes: QuoteModes) -> None:
        flags = _BACKSLASH_ESCAPES * modes.backslash_escapes | _ANSI_QUOTES * modes.ansi_quotes
        try:
            self._to.write(_HEADER.pack(stmt.number, stmt.line, flags, len(stmt.sql)))
            self._to.write(stmt.sql)
        except BrokenPipeError:
            self._ended_early()

    def has_refused(self) -> bool:
        """Whether the child has said something already: only a refusal comes before the end."""
        readable, _, _ = select.select([self._from], [], [], 0)
        return bool(readable)

    def finish(self) -> tuple[Accepted, Refused | None]:
        """Wait for the child's verdicts: the digests it accepted (with the literals' kinds it proved)
        and its first refusal, if any."""
        if self._verdicts is None:
            self._verdicts = self._collect()
        return self._verdicts

    def _collect(self) -> tuple[Accepted, Refused | None]:
        try:
            self._to.write(_HEADER.pack(0, 0, 0, 0))
            self._to.close()
        except BrokenPipeError:
            self._ended_early()
        refused, accepted = None, None
        try:
            for line in self._from:
                said = json.loads(line)
                if "refused" in said:
                    refused = Refused(said["refused"]["message"], number=said["refused"]["number"])
                else:
                    accepted = Accepted(
                        {bytes.fromhex(d) for d in said["accepted"]},
                        {
                            bytes.fromhex(d): tuple(int(k) for k in kinds)
                            for d, kinds in said["kinds"].items()
                        },
                    )
        except (ValueError, KeyError, TypeError):  # a child cut off mid-answer
            accepted = None
        if self._child.wait() != 0 or accepted is None:
            self._ended_early()
        assert accepted is not None
        return accepted, refused

    def stop(self) -> None:
        self._child.kill()
        self._child.wait()
        for stream in (self._to, self._from):
            with contextlib.suppress(OSError):
                stream.close()

    def _ended_early(self) -> None:
        self.stop()
        raise OperationError(
            f"the check before loading stopped: its second process exited with code {self._child.returncode}"
        )


@contextlib.contextmanager
def row_lane(confinement: Confinement, wanted: bool) -> Iterator[RowLane | None]:
    """A lane for `confinement`'s big row statements while the block checks the rest (see
    check_statements); on leaving, its verdicts join the confinement's, and the first refusal of
    either lane is raised."""
    if not wanted:
        yield None
        return
    try:
        lane = RowLane(confinement.where)
    except OSError:  # no second process here: one lane does it all
        yield None
        return
    try:
        yield lane
    except Refused as mine:
        _, theirs = lane.finish()
        if theirs is not None and (mine.number is None or (theirs.number or 0) < mine.number):
            raise theirs from None
        raise
    except BaseException:
        lane.stop()
        raise
    accepted, theirs = lane.finish()
    if theirs is not None:
        raise theirs
    confinement.accepted_rows |= accepted.digests
    confinement.row_kinds |= accepted.row_kinds


def check_before_loading(
    make: Callable[[], Confinement],
    read: Callable[[Callable[[Iterable[bytes]], None]], object],
    input_bytes: int,
) -> Confinement:
    """Check every statement before anything changes; returns the confinement that did it (its
    accepted digests serve the load). `read(check)` hands each run of SQL chunks (a frame, a file) to
    `check`, in order. Two lanes when lanes_help(input_bytes), with big row statements split on trust;
    a refusal then reads it all again in one lane (see the module's doc)."""
    confinement = make()
    if lanes_help(input_bytes):
        try:
            with row_lane(confinement, wanted=True) as lane:
                read(lambda sql: _check(confinement, sql, lane))
            return confinement
        except (Refused, UsageError, StatementTooLong):  # what a wrong cut may lead to (module's doc)
            confinement = make()
    read(lambda sql: _check(confinement, sql, None))
    return confinement


def _check(confinement: Confinement, sql: Iterable[bytes], lane: RowLane | None) -> None:
    limit = confinement.max_statement_bytes
    if lane is not None:
        limit = TRUSTED_MAX_STATEMENT_BYTES if limit is None else min(limit, TRUSTED_MAX_STATEMENT_BYTES)
    statements = split_statements(
        sql,
        first_number=confinement.next_number,
        modes=confinement.modes,
        known=_for_lane if lane is not None else None,
        max_statement_bytes=limit,
    )
    try:
        check_statements(confinement, statements, lane)
    except StatementTooLong as exc:
        if lane is not None:
            raise  # maybe a wrong cut: read again in one lane (module's doc)
        raise too_long(exc, confinement.where) from None


def _for_lane(sql: bytes | memoryview) -> bool:
    """A big row statement: read by the second lane, and so also split on trust before it is sent
    there (the lane proves the split, see the module's doc). The splitter has skipped the whitespace
    before a statement, so its first bytes tell."""
    return len(sql) >= LANE_MIN_BYTES and is_row_statement(bytes(sql[:_HEAD_BYTES]))


def check_statements(confinement: Confinement, statements: Iterable[Statement], lane: RowLane | None) -> None:
    """Confinement.check_all, with the big row statements handed to `lane` when there is one."""
    if lane is None:
        confinement.check_all(statements)
        return
    big = 0
    for stmt in statements:
        if _for_lane(stmt.sql) and (big := big + 1) % READ_HERE_EVERY:
            lane.take(stmt, confinement.modes)
            if lane.has_refused():  # the first refused: every statement before it has passed
                _, theirs = lane.finish()
                if theirs is not None:
                    raise theirs
        else:
            confinement.check(confinement.unqualified(stmt))
        confinement.next_number = stmt.number + 1


# --- the child --------------------------------------------------------------------------------------


def _serve(requests: IO[bytes], answers: IO[bytes]) -> None:
    where = requests.readline()
    if not where:  # started ahead and not needed after all (lane_start.py): nothing to say
        return
    confinement = Confinement(where=json.loads(where), learn_row_kinds=True)
    refused = False
    while True:
        number, line, flags, length = _HEADER.unpack(_read(requests, _HEADER.size))
        if number == 0:
            break
        sql = _read(requests, length)
        if refused:
            continue  # read on to the end: the parent is still sending
        confinement.modes = QuoteModes(bool(flags & _BACKSLASH_ESCAPES), bool(flags & _ANSI_QUOTES))
        try:
            confinement.check(Statement(number, line, sql))
        except Refused as exc:
            refused = True
            _answer(answers, {"refused": {"number": number, "message": str(exc)}})
    _answer(
        answers,
        {
            "accepted": sorted(d.hex() for d in confinement.accepted_rows),
            "kinds": {d.hex(): kinds for d, kinds in confinement.row_kinds.items()},
        },
    )


def _read(stream: IO[bytes], size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise SystemExit("cloudbackup.confine.lanes: the parent stopped sending")
    return data


def _answer(answers: IO[bytes], said: dict[str, object]) -> None:
    answers.write(json.dumps(said).encode() + b"\n")
    answers.flush()


if __name__ == "__main__":
    # Ctrl-C reaches the whole process group: the parent stops this process itself (row_lane), and
    # one started ahead and never taken ends with the parent's pipe.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _serve(sys.stdin.buffer, sys.stdout.buffer)
