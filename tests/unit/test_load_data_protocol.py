"""LOAD DATA LOCAL sends the rows in memory, and only to a server that asks for them by name.

A server that asks for another file (a rogue server, or one in the middle) gets an empty file and the
restore stops; a server that answers some other query with a file request gets nothing either."""

from __future__ import annotations

import pytest

from cloudbackup.dburl import DbSettings
from cloudbackup.mysql import load_data
from cloudbackup.mysql.connection import connect
from tests.fixtures.fake_mysql import file_asking_mysql

LOAD = b"LOAD DATA LOCAL INFILE 'cloudbackup-rows' INTO TABLE `t` (`id`)"


def settings(port: int) -> DbSettings:
    return DbSettings(host="127.0.0.1", port=port, user="root", ssl_mode="DISABLED")


def test_the_rows_go_to_a_server_that_asks_for_them_by_name() -> None:
    # Given a server that asks for the file LOAD DATA named
    with file_asking_mysql(asks_for=load_data.FILE_NAME) as server:
        conn = connect(settings(server.port), local_files=True)
        # When rows are sent
        affected, warnings = load_data.send(conn, LOAD, memoryview(b"1),(2"))
        conn.close()
    # Then it received exactly those bytes, then the end of the file
    assert (affected, warnings) == (0, 0)
    assert server.sent_as_file == [b"1),(2", b""]


def test_a_server_asking_for_another_file_gets_nothing_and_the_load_stops() -> None:
    # Given a server that answers LOAD DATA by asking for a file of the client's machine
    with file_asking_mysql(asks_for=b"/etc/passwd") as server:
        conn = connect(settings(server.port), local_files=True)
        # When rows are sent
        refused = r"asked for the file b'/etc/passwd' instead of the rows"
        with pytest.raises(load_data.NotAsked, match=refused):
            load_data.send(conn, LOAD, memoryview(b"1),(2"))
        conn.close()
    # Then it got an empty file: neither the rows nor the file it named
    assert server.sent_as_file == [b""]


def test_a_file_request_in_answer_to_another_query_is_refused() -> None:
    # Given a server that answers a SELECT with a request for a file
    with file_asking_mysql(asks_for=b"/etc/passwd") as server:
        conn = connect(settings(server.port), local_files=True)
        # When a query runs on a connection that may send LOAD DATA rows
        with pytest.raises(RuntimeError, match="local_infile option is false"):
            conn.query("SELECT 1")
        conn.close()
    # Then nothing was sent as a file (pymysql's own file sending is off)
    assert not any(server.sent_as_file)
