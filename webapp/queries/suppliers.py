"""Suppliers: the only table read before anyone is signed in (no tenant policy)."""

from __future__ import annotations

import psycopg
from psycopg.rows import class_row

from webapp.models import Supplier, SupplierLogin
from webapp.studio import Studio

_COLUMNS = "id, business_name, email, default_region, is_operator, timezone, date_style"

INSERT_SUPPLIER = f"""
INSERT INTO suppliers (business_name, email, password_hash, default_region, timezone, date_style)
VALUES (%(business_name)s, lower(%(email)s), %(password_hash)s, %(default_region)s, %(timezone)s, %(date_style)s)
ON CONFLICT (lower(email)) DO NOTHING
RETURNING {_COLUMNS}
"""
GET_LOGIN = "SELECT id, password_hash FROM suppliers WHERE lower(email) = lower(%s)"
GET_SUPPLIER = f"SELECT {_COLUMNS} FROM suppliers WHERE id = %s"
GET_STUDIO = "SELECT business_name, default_region AS region, timezone, date_style FROM suppliers WHERE id = %s"
UPDATE_STUDIO = """
UPDATE suppliers SET business_name = %(business_name)s, default_region = %(region)s, timezone = %(timezone)s,
    date_style = %(date_style)s
WHERE id = %(id)s
"""
SET_PASSWORD_HASH = "UPDATE suppliers SET password_hash = %s WHERE id = %s"  # noqa: S105 - SQL, not a secret


async def create_supplier(
    conn: psycopg.AsyncConnection, *, business_name: str, email: str, password_hash: str, studio: Studio
) -> Supplier | None:
    """The new supplier, or None when the email is already registered."""
    async with conn.cursor(row_factory=class_row(Supplier)) as cur:
        await cur.execute(
            INSERT_SUPPLIER,
            {
                "business_name": business_name,
                "email": email,
                "password_hash": password_hash,
                "default_region": studio.region,
                "timezone": studio.timezone,
                "date_style": studio.date_style,
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


async def get_studio(conn: psycopg.AsyncConnection, supplier_id: int) -> Studio | None:
    async with conn.cursor(row_factory=class_row(Studio)) as cur:
        await cur.execute(GET_STUDIO, [supplier_id])
        return await cur.fetchone()


async def update_studio(conn: psycopg.AsyncConnection, supplier_id: int, studio: Studio) -> None:
    await conn.execute(
        UPDATE_STUDIO,
        {
            "id": supplier_id,
            "business_name": studio.business_name,
            "region": studio.region,
            "timezone": studio.timezone,
            "date_style": studio.date_style,
        },
    )
