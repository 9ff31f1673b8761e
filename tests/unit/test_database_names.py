"""database_name_problem(): the names both servers take for a new database pass, the others say why.

(The taken ones and the refused ones were tried by CREATE DATABASE on MariaDB 10.11 and MySQL 9.7;
MySQL creates the emoji one too, but its information_schema cannot compare it.
tests/integration/test_restore_confinement.py restores into the refused ones on both servers.)"""

from __future__ import annotations

import pytest

from cloudbackup.mysql.identifiers import database_name_problem

TAKEN = ["a" * 64, "é" * 64, " leading space", "a/b", "a.b", "a\\b", "we`ird db", "\ufffd", "x\uffff"]
REFUSED = {
    "": "is empty",
    "a" * 65: "is 65 characters long, and the server allows 64",
    "é" * 65: "is 65 characters long",
    "trailing ": "ends with a space",
    "nul\0": "NUL",
    "\U0001f600": "outside Unicode's Basic Multilingual Plane",
    "bad\udcff": "not UTF-8",
}


@pytest.mark.parametrize("name", TAKEN)
def test_a_name_the_servers_take_passes(name):
    assert database_name_problem(name) is None


@pytest.mark.parametrize(("name", "why"), REFUSED.items())
def test_a_name_the_servers_refuse_says_why(name, why):
    problem = database_name_problem(name)
    assert problem is not None
    assert why in problem
