"""The round-trip oracle must be able to fail: it sees a changed row, trigger order, sequence, definition."""

import uuid

import pytest

from tests.fixtures.compare import assert_databases_equal
from tests.fixtures.every_type import drop_database, load_every_type
from tests.fixtures.mariadb import run_sql


def test_two_loads_of_the_same_schema_are_equal(db_settings, every_type_db, every_type_copy):
    # Given two databases loaded from the same script under different names
    copy = every_type_copy()
    # When / Then they compare equal: names are not part of the comparison
    assert_databases_equal(db_settings, every_type_db, copy)


# One change per kind of object, each with what the failure must say about it. They are all applied to
# one copy (a load costs seconds): every expected line must be in that one failure.
CHANGES = [
    (["UPDATE all_numbers SET f = 1.2345679 WHERE id = 1"], "table `all_numbers`: CHECKSUM TABLE"),
    (["UPDATE all_binary SET vb = X'00' WHERE id = 2"], "table `all_binary`: CHECKSUM TABLE"),
    (["DELETE FROM no_pk WHERE a = 1 LIMIT 1"], "table `no_pk`: rows: source"),
    (["ALTER TABLE auto_inc AUTO_INCREMENT = 2000"], "table `auto_inc`: AUTO_INCREMENT"),
    (
        ["ALTER TABLE indexed DROP INDEX idx_desc, ADD INDEX idx_desc (c)"],
        "table `indexed`: SHOW CREATE TABLE Create Table differs",
    ),
    (
        # same triggers, same text, another order
        [
            "DROP TRIGGER invoice_bi_first",
            "CREATE TRIGGER invoice_bi_first BEFORE INSERT ON invoice FOR EACH ROW "
            "BEGIN\n  SET NEW.audit = CONCAT_WS(';', NEW.audit, 'first');\nEND",
        ],
        "trigger `invoice_bi_first`: ACTION_ORDER: source 1 != restored 3",
    ),
    (["DROP VIEW a_view_top"], "view `a_view_top`: missing in the restored database"),
    (["ALTER EVENT ev_every DISABLE"], "event `ev_every`: SHOW CREATE EVENT Create Event"),
    (["DROP PROCEDURE p_loose"], "procedure `p_loose`: missing"),
    (["ALTER DATABASE CHARACTER SET latin1"], "database default charset/collation"),
    (
        [
            "SET SESSION sql_mode = ''",
            "DROP FUNCTION f_tax",
            "CREATE FUNCTION f_tax(amount DECIMAL(10,2)) RETURNS decimal(10,2) DETERMINISTIC RETURN amount",
        ],
        "function `f_tax`: SHOW CREATE FUNCTION sql_mode",
    ),
]


# What only one server's every-type schema has.
FLAVOUR_CHANGES = {
    "mariadb": [
        (["UPDATE versioned SET v = 'changed' WHERE id = 2"], "table `versioned`: current rows digest"),
        (["DO SETVAL(seq_plain, 100)"], "sequence `seq_plain`: state"),
    ],
    "mysql": [
        # a table with a multi-valued index, whose CHECKSUM TABLE MySQL does not keep stable
        (["UPDATE indexed SET doc = '{\"tags\": [9]}' WHERE id = 100"], "table `indexed`: rows digest"),
    ],
}
ALL_CHANGES = [*CHANGES, *(change for changes in FLAVOUR_CHANGES.values() for change in changes)]


@pytest.fixture(scope="module")
def failure_for_changed_copy(db_settings, every_type_db, server_flavour):
    """The comparison failure of the every-type schema against a copy with every change above."""
    copy = f"cbt_every_{uuid.uuid4().hex[:8]}"
    load_every_type(db_settings, copy)
    try:
        for statements, _ in [*CHANGES, *FLAVOUR_CHANGES[server_flavour]]:
            run_sql(db_settings, copy, *statements)
        with pytest.raises(AssertionError) as failure:
            assert_databases_equal(db_settings, every_type_db, copy)
        yield str(failure.value)
    finally:
        drop_database(db_settings, copy)


@pytest.mark.parametrize(("statements", "expected"), ALL_CHANGES)
def test_a_difference_is_found_and_named(failure_for_changed_copy, server_flavour, statements, expected):
    if (statements, expected) not in [*CHANGES, *FLAVOUR_CHANGES[server_flavour]]:
        pytest.skip(f"not in {server_flavour}'s every-type schema")
    # Given a copy of the every-type schema changed by `statements` (among others)
    # When it is compared with the original
    # Then the failure names the object and what differs
    assert expected in failure_for_changed_copy


def test_a_table_subset_ignores_other_tables(db_settings, every_type_db, every_type_copy):
    # Given a copy where a table outside the subset and a view changed
    copy = every_type_copy()
    run_sql(db_settings, copy, "DELETE FROM no_pk", "DROP VIEW a_view_top")
    # When only some tables are compared, Then they are equal
    assert_databases_equal(db_settings, every_type_db, copy, tables=["invoice", "all_numbers"])
    # And a change inside the subset is still seen (with the table's triggers)
    run_sql(db_settings, copy, "DROP TRIGGER invoice_au")
    with pytest.raises(AssertionError, match="trigger `invoice_au`: missing"):
        assert_databases_equal(db_settings, every_type_db, copy, tables=["invoice", "all_numbers"])
