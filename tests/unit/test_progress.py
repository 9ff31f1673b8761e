"""The progress line: shown on a terminal only, with tables, rows, bytes and rate."""

import io

from cloudbackup.progress import NoProgress, TerminalProgress, for_terminal


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_pipe_gets_no_progress_at_all():
    # Given stderr is a pipe (not a TTY)
    stream = io.StringIO()
    # When progress is chosen for it and used
    progress = for_terminal(stream)
    progress.begin("backup shop", 2)
    progress.add(tables=1, rows=10, bytes=100)
    progress.end()
    # Then nothing was written
    assert isinstance(progress, NoProgress)
    assert stream.getvalue() == ""


def test_a_terminal_gets_one_updating_line_that_is_cleared_at_the_end():
    # Given a terminal
    stream = FakeTty()
    progress = for_terminal(stream)
    assert isinstance(progress, TerminalProgress)
    # When work progresses
    progress.begin("backup shop", 3)
    progress.add(tables=2, rows=1234, bytes=5_000_000)
    line = progress.line()
    progress.end()
    # Then the line names tables, rows, bytes and a rate, and it is redrawn in place (no newline)
    assert line.startswith("backup shop: 2/3 tables, 1,234 rows, 4.8 MiB, ")
    assert line.endswith(" MiB/s")
    out = stream.getvalue()
    assert "\n" not in out
    assert out.startswith("\rbackup shop: 0/3 tables")
    assert out.endswith("\r")


def test_with_a_known_total_the_line_gives_the_share_done_the_time_left_and_the_table():
    # Given a restore whose manifest says 8 MiB of SQL, a quarter of it loaded
    progress = TerminalProgress(FakeTty())
    progress.begin("restore shop", 4)
    progress.expect(8 * 1024 * 1024)
    progress.current("orders")
    progress.add(tables=1, rows=10, bytes=2 * 1024 * 1024)
    # Then the line starts with the share, says how long is left, and names the table
    line = progress.line()
    assert line.startswith("restore shop: 25%, 1/4 tables, 10 rows, 2.0 MiB, ")
    assert " left, table orders" in line
    # and a state (uploading) takes the table's place
    progress.state("uploading")
    assert progress.line().endswith(", uploading")


def test_a_row_estimate_gives_an_approximate_share_that_never_claims_done():
    # Given a backup whose server estimates 1,000 rows
    progress = TerminalProgress(FakeTty())
    progress.begin("backup shop", 2)
    progress.estimate_rows(1000)
    # When half are read, the share and time left are marked as estimates
    progress.add(rows=500, bytes=1024)
    assert progress.line().startswith("backup shop: ~50%, 0/2 tables, 500 rows, ")
    assert " left" in progress.line()
    # and more rows than estimated never show as done
    progress.add(rows=2000)
    assert progress.line().startswith("backup shop: ~99%, ")
