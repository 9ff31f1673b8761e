"""The reference fixtures themselves load into the real MariaDB."""

from tests.fixtures.mariadb import admin_connect


def test_sakila_loads_with_the_stock_client(db_settings, sakila_db):
    with admin_connect(db_settings, sakila_db) as conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM rental")
        assert cur.fetchone()[0] == 16044
