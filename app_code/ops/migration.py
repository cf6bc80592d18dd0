"""The app's schema: the DDL the bootstrap runs as the admin (the app user holds DML only, so it never runs DDL).

Every statement is idempotent (IF NOT EXISTS), so a second bootstrap creates nothing. PostgreSQL keeps the tables
in a schema of their own (`catalog`); MySQL has no schemas inside a database, so they sit in the database itself.
"""

from __future__ import annotations

from cdk_data_tier.app.sql import MySql, Postgres

PG_SCHEMA = "catalog"

_PG = Postgres()
_MY = MySql()


def statements(family: str) -> list[str]:
    return _postgres() if family == "postgres" else _mysql()


def tables(family: str) -> tuple[str, ...]:
    """The tables the statements create, unqualified (what information_schema lists)."""
    d = _PG if family == "postgres" else _MY
    return tuple(t.rpartition(".")[2] for t in (d.products, d.orders, d.drill_keys, d.drill_effects))


def _drills(d: Postgres | MySql, text: str) -> list[str]:
    """The failover drills' ledger: an idempotency key per write, and its effect rows (no unique constraint, so
    a write applied twice shows as two)."""
    return [f"CREATE TABLE IF NOT EXISTS {d.drill_keys} (key_ {text} PRIMARY KEY, run {text} NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {d.drill_effects} (key_ {text} NOT NULL, run {text} NOT NULL, "
            "seq int NOT NULL)"]


def _postgres() -> list[str]:
    products, orders = _PG.products, _PG.orders
    return [
        f"CREATE SCHEMA IF NOT EXISTS {PG_SCHEMA}",
        f"""CREATE TABLE IF NOT EXISTS {products} (
            sku text PRIMARY KEY, name text NOT NULL, brand text NOT NULL, category text NOT NULL,
            subcategory text NOT NULL, price numeric(10,2) NOT NULL CHECK (price >= 0), currency text NOT NULL,
            stock integer NOT NULL CHECK (stock >= 0), rating numeric(2,1) NOT NULL,
            review_count integer NOT NULL, color text NOT NULL, weight_grams integer NOT NULL, tags text NOT NULL,
            created_at date NOT NULL, description text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())""",
        f"CREATE INDEX IF NOT EXISTS products_category_price ON {products} (category, price)",
        f"""CREATE TABLE IF NOT EXISTS {orders} (
            order_id uuid PRIMARY KEY, sku text NOT NULL REFERENCES {products} (sku) ON DELETE CASCADE,
            qty integer NOT NULL CHECK (qty > 0), placed_at timestamptz NOT NULL DEFAULT now())""",
        *_drills(_PG, "text"),
    ]


def _mysql() -> list[str]:
    products, orders = _MY.products, _MY.orders
    return [
        f"""CREATE TABLE IF NOT EXISTS {products} (
            sku varchar(64) PRIMARY KEY, name varchar(255) NOT NULL, brand varchar(64) NOT NULL,
            category varchar(64) NOT NULL, subcategory varchar(64) NOT NULL,
            price decimal(10,2) NOT NULL CHECK (price >= 0), currency char(3) NOT NULL,
            stock int NOT NULL CHECK (stock >= 0), rating decimal(2,1) NOT NULL, review_count int NOT NULL,
            color varchar(32) NOT NULL, weight_grams int NOT NULL, tags varchar(255) NOT NULL,
            created_at date NOT NULL, description text NOT NULL,
            updated_at timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
            KEY products_category_price (category, price)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
        f"""CREATE TABLE IF NOT EXISTS {orders} (
            order_id char(36) PRIMARY KEY, sku varchar(64) NOT NULL, qty int NOT NULL CHECK (qty > 0),
            placed_at timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
            FOREIGN KEY (sku) REFERENCES {products} (sku) ON DELETE CASCADE)
            ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
        *_drills(_MY, "varchar(64)"),
    ]
