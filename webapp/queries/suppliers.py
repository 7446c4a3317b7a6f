"""Suppliers: the only table read before anyone is signed in (no tenant policy)."""

from __future__ import annotations

import psycopg
from psycopg.rows import class_row

from webapp.models import Supplier, SupplierLogin

_COLUMNS = "id, business_name, email, default_region, is_operator"

INSERT_SUPPLIER = f"""
INSERT INTO suppliers (business_name, email, password_hash, default_region)
VALUES (%(business_name)s, lower(%(email)s), %(password_hash)s, %(default_region)s)
ON CONFLICT (lower(email)) DO NOTHING
RETURNING {_COLUMNS}
"""
GET_LOGIN = "SELECT id, password_hash FROM suppliers WHERE lower(email) = lower(%s)"
GET_SUPPLIER = f"SELECT {_COLUMNS} FROM suppliers WHERE id = %s"
SET_PASSWORD_HASH = "UPDATE suppliers SET password_hash = %s WHERE id = %s"  # noqa: S105 - SQL, not a secret


async def create_supplier(
    conn: psycopg.AsyncConnection, *, business_name: str, email: str, password_hash: str, default_region: str
) -> Supplier | None:
    """The new supplier, or None when the email is already registered."""
    async with conn.cursor(row_factory=class_row(Supplier)) as cur:
        await cur.execute(
            INSERT_SUPPLIER,
            {
                "business_name": business_name,
                "email": email,
                "password_hash": password_hash,
                "default_region": default_region,
            },
        )
        return await cur.fetchone()


async def get_login(conn: psycopg.AsyncConnection, email: str) -> SupplierLogin | None:
    async with conn.cursor(row_factory=class_row(SupplierLogin)) as cur:
        await cur.execute(GET_LOGIN, [email])
        return await cur.fetchone()


async def get_supplier(conn: psycopg.AsyncConnection, supplier_id: int) -> Supplier | None:
    async with conn.cursor(row_factory=class_row(Supplier)) as cur:
        await cur.execute(GET_SUPPLIER, [supplier_id])
        return await cur.fetchone()


async def set_password_hash(conn: psycopg.AsyncConnection, supplier_id: int, password_hash: str) -> None:
    await conn.execute(SET_PASSWORD_HASH, [password_hash, supplier_id])
