"""The catalog: products by SKU, bulk product writes for imports, and a product's sales figures."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.engine import RowMapping

from crm_store.customers import visible_to
from crm_store.records import ProductRecord, ProductSummary, TopBuyer
from crm_store.repo import Repo
from crm_store.tables import customers, order_lines, products

_CHUNK = 500


def _record(row: RowMapping) -> ProductRecord:
    return ProductRecord(
        id=row["id"],
        sku=row["sku"],
        name=row["name"],
        category=row["category"],
        price_cents=row["price_cents"],
        currency=row["currency"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


class ProductRepo(Repo):
    async def add_product(
        self,
        *,
        sku: str,
        name: str,
        category: str = "",
        price_cents: int | None = None,
        currency: str = "USD",
    ) -> int:
        """A new product; its SKU must be unused (IntegrityError otherwise)."""
        new_id = (
            await self.conn.execute(
                insert(products)
                .values(
                    sku=sku,
                    name=name,
                    category=category,
                    price_cents=price_cents,
                    currency=currency,
                    created_at=self.now,
                    updated_at=self.now,
                )
                .returning(products.c.id)
            )
        ).scalar_one()
        await self.audit.record("create", "product", new_id, sku=sku)
        return int(new_id)

    async def upsert_product(
        self,
        *,
        sku: str,
        name: str,
        category: str | None = None,
        price_cents: int | None = None,
        currency: str | None = None,
    ) -> int:
        """The product with this SKU, created or updated (fields given as None stay as they are)."""
        current = await self.product_by_sku(sku)
        if current is None:
            return await self.add_product(
                sku=sku,
                name=name,
                category=category or "",
                price_cents=price_cents,
                currency=currency or "USD",
            )
        values: dict[str, Any] = {"name": name, "updated_at": self.now}
        if category is not None:
            values["category"] = category
        if price_cents is not None:
            values["price_cents"] = price_cents
        if currency is not None:
            values["currency"] = currency
        await self.conn.execute(update(products).where(products.c.id == current.id).values(**values))
        await self.audit.record("update", "product", current.id, fields=sorted(values))
        return current.id

    async def get(self, product_id: int) -> ProductRecord | None:
        row = (
            (await self.conn.execute(select(products).where(products.c.id == product_id))).mappings().first()
        )
        return None if row is None else _record(row)

    async def product_by_sku(self, sku: str) -> ProductRecord | None:
        """The product with exactly this SKU, else the one equal to it case aside."""
        row = (await self.conn.execute(select(products).where(products.c.sku == sku))).mappings().first()
        if row is None:
            query = select(products).where(func.upper(products.c.sku) == sku.upper()).order_by(products.c.id)
            row = (await self.conn.execute(query)).mappings().first()
        return None if row is None else _record(row)

    async def ids_by_sku(self, skus: Iterable[str]) -> dict[str, int]:
        """Product ids per exact SKU, one query per 500 SKUs (imports)."""
        wanted = sorted({s for s in skus if s})
        found: dict[str, int] = {}
        for start in range(0, len(wanted), _CHUNK):
            rows = await self.conn.execute(
                select(products.c.sku, products.c.id).where(
                    products.c.sku.in_(wanted[start : start + _CHUNK])
                )
            )
            found.update({str(sku): int(pid) for sku, pid in rows})
        return found

    async def add_many(self, rows: Iterable[Mapping[str, Any]], *, source: str) -> dict[str, int]:
        """Bulk insert of new products (``sku``, ``name``, optional ``category``, ``price_cents``,
        ``currency``); one audit entry for the batch. Returns the new ids per SKU."""
        values = [
            {
                "sku": r["sku"],
                "name": r["name"],
                "category": r.get("category", ""),
                "price_cents": r.get("price_cents"),
                "currency": r.get("currency", "USD"),
                "created_at": self.now,
                "updated_at": self.now,
            }
            for r in rows
        ]
        if not values:
            return {}
        await self.conn.execute(insert(products), values)
        await self.audit.record("import", "product", None, rows=len(values), source=source)
        return await self.ids_by_sku(v["sku"] for v in values)

    async def all_names(self) -> list[tuple[int, str, str]]:
        """(id, sku, name) of every product: what a fuzzy name match ranks (catalogs are small)."""
        rows = await self.conn.execute(
            select(products.c.id, products.c.sku, products.c.name).order_by(products.c.id)
        )
        return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]

    async def get_many(self, ids: Iterable[int]) -> dict[int, ProductRecord]:
        wanted = sorted(set(ids))
        found: dict[int, ProductRecord] = {}
        for start in range(0, len(wanted), _CHUNK):
            query = select(products).where(products.c.id.in_(wanted[start : start + _CHUNK]))
            found.update({r["id"]: _record(r) for r in (await self.conn.execute(query)).mappings().all()})
        return found

    async def page(self, *, after_id: int, limit: int) -> list[ProductRecord]:
        """Products by id after ``after_id`` (the HTTP API's list)."""
        query = select(products).where(products.c.id > after_id).order_by(products.c.id).limit(limit)
        return [_record(r) for r in (await self.conn.execute(query)).mappings().all()]

    async def count(self) -> int:
        return int((await self.conn.execute(select(func.count()).select_from(products))).scalar_one())

    async def product_summary(
        self, product_id: int, *, visible_to_rep: int | None = None, top: int = 5
    ) -> ProductSummary | None:
        """Units, revenue and orders (net of returns), returns, and the top buyers by revenue,
        counted over live customers (only those ``visible_to_rep`` sees when given)."""
        product = await self.get(product_id)
        if product is None:
            return None
        ol = order_lines.c
        where = [ol.product_id == product_id, customers.c.deleted_at.is_(None)]
        if visible_to_rep is not None:
            where.append(visible_to(visible_to_rep))
        joined = order_lines.join(customers, customers.c.id == ol.customer_id)
        sale = ol.quantity > 0
        totals = (
            await self.conn.execute(
                select(
                    func.coalesce(func.sum(ol.quantity), 0),
                    func.coalesce(func.sum(ol.line_cents), 0),
                    func.count(func.distinct(case((sale, ol.order_id)))),
                    func.coalesce(func.sum(case((sale, 0), else_=-ol.quantity)), 0),
                    func.count(case((sale, None), else_=ol.id)),
                    func.count(func.distinct(ol.customer_id)),
                )
                .select_from(joined)
                .where(*where)
            )
        ).one()
        buyers_query = (
            select(
                ol.customer_id,
                customers.c.name,
                func.sum(ol.quantity).label("units"),
                func.sum(ol.line_cents).label("revenue"),
            )
            .select_from(joined)
            .where(*where)
            .group_by(ol.customer_id, customers.c.name)
            .having(func.sum(ol.quantity) > 0)
            .order_by(func.sum(ol.line_cents).desc(), ol.customer_id)
            .limit(top)
        )
        top_buyers = tuple(
            TopBuyer(customer_id=int(r[0]), name=str(r[1]), units=int(r[2]), revenue_cents=int(r[3]))
            for r in await self.conn.execute(buyers_query)
        )
        return ProductSummary(
            product=product,
            units=int(totals[0]),
            revenue_cents=int(totals[1]),
            orders=int(totals[2]),
            returned_units=int(totals[3]),
            returns=int(totals[4]),
            buyers=int(totals[5]),
            top_buyers=top_buyers,
        )
