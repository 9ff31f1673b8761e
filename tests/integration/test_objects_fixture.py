"""The every-type schema loads with the stock client and holds what its traps need."""

import pytest

from tests.fixtures.mariadb import admin_connect


def test_every_type_schema_loads_with_every_object_kind(db_settings, every_type_db, server_flavour):
    if server_flavour != "mariadb":
        pytest.skip("MariaDB's every-type schema (MySQL's: the test below)")
    # Given the every-type schema loaded by the stock mysql client
    with admin_connect(db_settings, every_type_db) as conn, conn.cursor() as cur:
        # When we count its objects by kind
        cur.execute(
            "SELECT table_type, COUNT(*) FROM information_schema.tables WHERE table_schema = %s "
            "GROUP BY table_type",
            (every_type_db,),
        )
        kinds = dict(cur.fetchall())
        cur.execute(
            "SELECT COUNT(*) FROM information_schema.triggers WHERE trigger_schema = %s", (every_type_db,)
        )
        (triggers,) = cur.fetchone()
        cur.execute(
            "SELECT routine_type, COUNT(*) FROM information_schema.routines WHERE routine_schema = %s "
            "GROUP BY routine_type",
            (every_type_db,),
        )
        routines = dict(cur.fetchall())
        cur.execute(
            "SELECT COUNT(*) FROM information_schema.events WHERE event_schema = %s", (every_type_db,)
        )
        (events,) = cur.fetchone()
        cur.execute("SELECT next_not_cached_value FROM seq_plain")
        (seq_plain_next,) = cur.fetchone()
        cur.execute("SELECT HEX(vb) FROM all_binary WHERE id = 1")
        (every_byte,) = cur.fetchone()
        cur.execute("SELECT f = CAST(1.2345678 AS FLOAT), f + 0e0 FROM all_numbers WHERE id = 1")
        float_exact, float_as_double = cur.fetchone()

    # Then every kind is there, with the values the traps rely on
    assert kinds["BASE TABLE"] == 28
    assert kinds["SYSTEM VERSIONED"] == 2
    assert kinds["VIEW"] == 8
    assert kinds["SEQUENCE"] == 5
    assert triggers == 6
    assert routines == {"FUNCTION": 6, "PROCEDURE": 4, "PACKAGE": 1, "PACKAGE BODY": 1}
    assert events == 4
    assert seq_plain_next == 42
    assert every_byte == "".join(f"{i:02X}" for i in range(256))
    assert float_exact == 1
    assert float_as_double != 1.2345678  # a FLOAT is not the decimal literal: printing must not round it


def test_mysql_every_type_schema_holds_its_traps(db_settings, every_type_db, server_flavour):
    if server_flavour != "mysql":
        pytest.skip("MySQL's every-type schema")
    # Given the MySQL every-type schema loaded by MySQL's stock client
    with admin_connect(db_settings, every_type_db) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT table_type, COUNT(*) FROM information_schema.tables WHERE table_schema = %s "
            "GROUP BY table_type",
            (every_type_db,),
        )
        kinds = dict(cur.fetchall())
        cur.execute(
            "SELECT routine_type, COUNT(*) FROM information_schema.routines WHERE routine_schema = %s "
            "GROUP BY routine_type",
            (every_type_db,),
        )
        routines = dict(cur.fetchall())
        cur.execute(
            "SELECT COUNT(*) FROM information_schema.triggers WHERE trigger_schema = %s", (every_type_db,)
        )
        (triggers,) = cur.fetchone()
        cur.execute(
            "SELECT COUNT(*) FROM information_schema.events WHERE event_schema = %s", (every_type_db,)
        )
        (events,) = cur.fetchone()
        cur.execute("SHOW CREATE TABLE gipk")
        gipk = cur.fetchone()[1]
        cur.execute("SHOW CREATE TABLE all_strings")
        strings = cur.fetchone()[1]
        cur.execute("SELECT CAST(f AS CHAR), CAST(dbl AS CHAR) FROM all_numbers WHERE id = 5")
        negative_zeros = cur.fetchone()
        cur.execute("SELECT VECTOR_DIM(v3), LENGTH(v_big) FROM all_misc WHERE id = 2")
        vectors = cur.fetchone()
        cur.execute("SELECT COUNT(*) FROM checked WHERE NOT (hi < 100)")
        (violating_not_enforced,) = cur.fetchone()

    # Then every kind is there, with the values the traps rely on
    assert kinds == {"BASE TABLE": 25, "VIEW": 6}
    assert routines == {"FUNCTION": 6, "PROCEDURE": 2}
    assert (triggers, events) == (5, 3)
    assert "`my_row_id` bigint unsigned NOT NULL AUTO_INCREMENT /*!80023 INVISIBLE */" in gipk
    assert "`inherits` varchar(40) COLLATE utf8mb4_0900_as_cs DEFAULT NULL" in strings  # inherited
    assert "`c_bin` char(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin" in strings  # named
    assert negative_zeros == ("-0", "-0")
    assert vectors == (3, 1024)
    assert violating_not_enforced == 1
