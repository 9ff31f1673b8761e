"""The demo's sample database: sakila when the shared fixtures are there, else a small one of our own."""

from __future__ import annotations

import random
import shutil
from datetime import datetime, timedelta
from decimal import Decimal

from cloudbackup.dburl import DbSettings
from tests.fixtures.mariadb import SAKILA_DIR, admin_connect, load_sakila

GENERATED_SCHEMA = [
    """CREATE TABLE customer (
        id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        name VARCHAR(80) NOT NULL,
        email VARCHAR(120) NOT NULL UNIQUE,
        city VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci,
        created_at DATETIME(6) NOT NULL,
        profile JSON
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
    """CREATE TABLE product (
        id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        sku CHAR(10) NOT NULL UNIQUE,
        title VARCHAR(120) NOT NULL,
        price DECIMAL(10,2) NOT NULL,
        weight DOUBLE,
        ratio FLOAT,
        thumbnail BLOB
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
    """CREATE TABLE orders (
        id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        customer_id INT UNSIGNED NOT NULL,
        placed_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
        status ENUM('new','paid','shipped','cancelled') NOT NULL DEFAULT 'new',
        note TEXT,
        KEY (customer_id, placed_at),
        CONSTRAINT fk_orders_customer FOREIGN KEY (customer_id) REFERENCES customer (id)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
    """CREATE TABLE order_item (
        order_id BIGINT UNSIGNED NOT NULL,
        product_id INT UNSIGNED NOT NULL,
        quantity SMALLINT NOT NULL,
        line_total DECIMAL(12,2) AS (quantity * 1.00) VIRTUAL,
        PRIMARY KEY (order_id, product_id),
        CONSTRAINT fk_item_order FOREIGN KEY (order_id) REFERENCES orders (id),
        CONSTRAINT fk_item_product FOREIGN KEY (product_id) REFERENCES product (id)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
    """CREATE VIEW order_totals AS
        SELECT o.id, o.customer_id, SUM(i.quantity * p.price) AS total
        FROM orders o JOIN order_item i ON i.order_id = o.id JOIN product p ON p.id = i.product_id
        GROUP BY o.id, o.customer_id""",
    """CREATE TRIGGER orders_note BEFORE INSERT ON orders FOR EACH ROW
        SET NEW.note = COALESCE(NEW.note, CONCAT('order of customer ', NEW.customer_id))""",
]
CITIES = ["Zürich", "São Paulo", "Kraków", "東京", "Reykjavík", "Montréal", "Dublin", "Cape Town 🌍"]


def load_sample(settings: DbSettings, name: str, choice: str = "auto") -> str:
    """Create database `name` holding sample data; returns what was loaded (for the summary).

    `choice`: "sakila", "generated", or "auto" (sakila when its files and the mysql client are there).
    """
    sakila_here = (SAKILA_DIR / "sakila-data.sql").is_file() and shutil.which("mysql") is not None
    if choice == "sakila" or (choice == "auto" and sakila_here):
        load_sakila(settings, name)
        return "sakila"
    generate_sample(settings, name)
    return "generated shop sample"


def generate_sample(settings: DbSettings, name: str, *, customers: int = 500, orders: int = 3000) -> None:
    rng = random.Random(20260101)
    with admin_connect(settings) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
    with admin_connect(settings, name) as conn, conn.cursor() as cur:
        for statement in GENERATED_SCHEMA:
            cur.execute(statement)
        start = datetime(2025, 1, 1)
        cur.executemany(
            "INSERT INTO customer (name, email, city, created_at, profile) VALUES (%s, %s, %s, %s, %s)",
            [
                (
                    f"Customer {i}",
                    f"c{i}@example.com",
                    rng.choice(CITIES),
                    start + timedelta(seconds=rng.randrange(10**7), microseconds=rng.randrange(10**6)),
                    None if i % 7 == 0 else f'{{"tier": {i % 3}, "tags": ["a", "b{i}"]}}',
                )
                for i in range(customers)
            ],
        )
        cur.executemany(
            "INSERT INTO product (sku, title, price, weight, ratio, thumbnail)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            [
                (
                    f"SKU{i:07d}",
                    f"Product {i} — édition",
                    Decimal(rng.randrange(100, 100000)) / 100,
                    rng.random() * 10,
                    rng.random(),
                    bytes(rng.randrange(256) for _ in range(64)),
                )
                for i in range(200)
            ],
        )
        cur.executemany(
            "INSERT INTO orders (customer_id, placed_at, status) VALUES (%s, %s, %s)",
            [
                (
                    rng.randrange(1, customers + 1),
                    start + timedelta(minutes=i),
                    rng.choice(["new", "paid", "shipped"]),
                )
                for i in range(orders)
            ],
        )
        cur.executemany(
            "INSERT IGNORE INTO order_item (order_id, product_id, quantity) VALUES (%s, %s, %s)",
            [
                (rng.randrange(1, orders + 1), rng.randrange(1, 201), rng.randrange(1, 9))
                for _ in range(orders * 2)
            ],
        )
