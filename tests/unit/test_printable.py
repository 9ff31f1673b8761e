"""one_line(): text from outside shown as one line of plain text, every control character an escape."""

from __future__ import annotations

import pytest

from cloudbackup.printable import one_line


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain é 中", "plain é 中"),
        ("a\nb", "a\\nb"),
        ("a\r\nb", "a\\r\\nb"),
        ("\x1b[2J", "\\x1b[2J"),
        ("tab\there", "tab\\there"),
        ("\x7f\x85\x9b", "\\x7f\\x85\\x9b"),  # DEL, NEL and CSI: C1 controls end lines or start escapes too
        ("\x00", "\\x00"),
    ],
)
def test_control_characters_are_written_as_escapes(text, shown):
    assert one_line(text) == shown
