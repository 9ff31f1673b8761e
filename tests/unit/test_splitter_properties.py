"""Property: any generated script of statements, comments and delimiter changes, cut into random
chunks, splits back into exactly the statements it was made of."""

from __future__ import annotations

from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from cloudbackup.mysql import splitter
from cloudbackup.mysql.splitter import split_statements

NASTY = [b";", b";;", b"//", b"$$", b"'", b"''", b'"', b"`", b"\\", b"--", b"-- ", b"#", b"/*", b"*/", b"/*!"]
NASTY += [b"\n", b";\n", b"\r\n", b"\t", b"DELIMITER ", b"\xff", b"\x80\x81", b"\x00", b"\xc3\xa9", b","]
text = st.lists(st.one_of(st.sampled_from(NASTY), st.binary(max_size=4)), max_size=8).map(b"".join)


def _quoted(quote: bytes, content: bytes, doubled: bool) -> bytes:
    """content as a string literal: escapes with backslashes, or doubles the quote."""
    if doubled:
        return quote + content.replace(b"\\", b"\\\\").replace(quote, quote + quote) + quote
    escaped = content.replace(b"\\", b"\\\\").replace(quote, b"\\" + quote)
    return quote + escaped + quote


words = st.sampled_from(
    [b"a", b"x1", b"NULL", b"12", b"3.5", b"0xff", b"_binary", b"@v", b"@@sql_mode", b"BEGIN"]
)
operators = st.sampled_from([b"-", b"/", b"*", b"(", b")", b",", b"=", b"+", b"- -1"])
strings = st.builds(_quoted, st.sampled_from([b"'", b'"']), text, st.booleans())
identifiers = text.map(lambda t: b"`" + t.replace(b"`", b"``") + b"`")
line_comments = st.builds(
    lambda opener, t: opener + t.replace(b"\n", b" ").replace(b"\r", b" ") + b"\n",
    st.sampled_from([b"-- ", b"#", b"--\t"]),
    text,
)
block_comments = text.map(lambda t: b"/* " + t.replace(b"*/", b"* /") + b"*/")  # `/*!` would be code
plain_tokens = st.one_of(words, operators, strings, identifiers)
conditional = st.lists(plain_tokens, min_size=1, max_size=4).map(
    lambda ts: b"/*!40101 " + b" ".join(ts) + b" */"
)
tokens = st.one_of(plain_tokens, plain_tokens, line_comments, block_comments, conditional)
first_words = st.sampled_from([b"SELECT", b"INSERT", b"CREATE", b"SET", b"/*!40101 SET x=1 */", b"USE"])
statements = st.builds(
    lambda first, rest: b" ".join([first, *rest]), first_words, st.lists(tokens, max_size=8)
)
between = st.lists(
    st.sampled_from([b"\n", b" ", b"\t", b"-- c;\n", b"# c;\n", b"/* c; */", b"\r\n"]), max_size=3
).map(b"".join)


@st.composite
def scripts(draw: st.DrawFn) -> tuple[bytes, list[bytes]]:
    parts: list[bytes] = []
    expected: list[bytes] = []
    if draw(st.booleans()):
        parts.append(b"/*M!999999\\- enable the sandbox mode */ \n")
    delimiter = b";"
    for _ in range(draw(st.integers(1, 4))):
        new = draw(st.sampled_from([b";", b";;", b"//", b"$$"]))
        if new != delimiter or draw(st.booleans()):
            parts.append(b"DELIMITER " + new + b"\n")
            delimiter = new
        for statement in draw(st.lists(statements, min_size=1, max_size=4)):
            if delimiter in (b"//", b"$$") and statement.endswith(delimiter[:1]):
                statement += b" 1"  # `x//` then `/` is ambiguous for the client too
            # A line comment at the end keeps its newline, or it would swallow the delimiter.
            parts.append(draw(between) + statement + delimiter)
            expected.append(statement.rstrip(b" \t\r\n\f\v"))
            if draw(st.booleans()):
                parts.append(delimiter)  # an empty statement
    parts.append(draw(between))
    if delimiter != b";":
        parts.append(b"DELIMITER ;\n")
    return b"".join(parts), expected


@settings(max_examples=300, deadline=None)
@given(scripts(), st.lists(st.integers(1, 40), min_size=1, max_size=60), st.sampled_from([1, 5, 4096]))
def test_generated_scripts_split_back_into_their_statements(script, cuts, careful_window):
    data, expected = script
    # (A small careful window hands statements to the bulk fast path early, so both are exercised.)
    # Given the script cut at random places
    chunks, at = [], 0
    for size in cuts * (len(data) // max(sum(cuts), 1) + 1):
        chunks.append(data[at : at + size])
        at += size
        if at >= len(data):
            break
    chunks.append(data[at:])
    # When it is split; Then the statements come back in order, numbered 1..n
    with mock.patch.object(splitter, "_CAREFUL_WINDOW", careful_window):
        got = list(split_statements(chunks))
    assert [s.sql for s in got] == expected
    assert [s.number for s in got] == list(range(1, len(expected) + 1))


@settings(max_examples=300, deadline=None)
@given(scripts(), st.lists(st.integers(1, 40), min_size=1, max_size=60))
def test_statements_the_caller_knows_split_back_the_same(script, cuts):
    # Given a caller that knows some statements whole (a restore: the row statements it accepted)
    data, expected = script
    known = {s for s in expected if len(s) % 2 == 0}
    chunks = [data[i : i + cuts[0]] for i in range(0, len(data), cuts[0])]
    # When the splitter asks it about the bytes up to each next `;` and newline
    got = [s.sql for s in split_statements(chunks, known=lambda sql: bytes(sql) in known)]
    # Then the statements are the same as when it reads them all
    assert got == expected


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from([b";", b"\n", b";\n", b"a", b"'"]), max_size=30).map(b"".join), st.data())
def test_the_end_of_a_known_statement_is_found_where_bytes_find_puts_it(data, draw):
    # Given bytes with semicolons and newlines anywhere, and a start anywhere in them
    start = draw.draw(st.integers(0, len(data)))
    # When the splitter looks for the next `;` and newline its own way (newline first, then back)
    # Then it finds the same place as bytes.find, or none where that finds none
    assert splitter._semicolon_newline(bytearray(data), start) == data.find(b";\n", start)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from([b"\n", b"a", b"\n\n\n"]), max_size=40).map(b"".join), st.data())
def test_lines_are_counted_as_bytes_count_counts_them(data, draw):
    # Given a run of bytes with any number of newlines, and any range of it
    start = draw.draw(st.integers(0, len(data)))
    end = draw.draw(st.integers(start, len(data)))
    # When the splitter counts the newlines in that range (one by one, then the rest in one pass)
    # Then it counts as many as bytes.count does
    assert splitter._newlines(bytearray(data), start, end) == data.count(b"\n", start, end)
