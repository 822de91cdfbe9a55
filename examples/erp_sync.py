"""An ERP pushing its products, customers and orders into crm-bot through the HTTP API alone.

    CRM_API_TOKEN=... python examples/erp_sync.py --url http://127.0.0.1:8080 [--data erp.json]

Plain Python (urllib), no packages. Safe to re-run: products are upserted by SKU, customers by
their ERP number (external_ref) and orders are recorded by their ERP number, so a second run
changes nothing. Every write carries an Idempotency-Key, and a request that fails on the way
(connection reset, 5xx, 429) is retried with the same key, so the CRM does it at most once. Prints
one JSON line with what was created and what was already there.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

# The ERP's own data (or --data FILE with the same keys).
SAMPLE: dict[str, Any] = {
    "products": [
        {"sku": "ERP-MUG", "name": "Enamel mug", "price_cents": 1200, "category": "kitchen"},
        {"sku": "ERP-POT", "name": "Cast-iron teapot", "price_cents": 5400, "category": "kitchen"},
        {"sku": "ERP-TEA", "name": "Assam tea 250 g", "price_cents": 900, "category": "tea"},
    ],
    "customers": [
        {"ref": "C-1001", "name": "Harbour Cafe", "email": "orders@harbour.example", "status": "active"},
        {"ref": "C-1002", "name": "Linden Tea Rooms", "email": "buy@linden.example", "tags": ["wholesale"]},
    ],
    "orders": [
        {"ref": "SO-5001", "customer": "C-1001", "lines": [["ERP-MUG", 24], ["ERP-TEA", 10]]},
        {"ref": "SO-5002", "customer": "C-1002", "lines": [["ERP-POT", 6]]},
        {"ref": "SO-5003", "customer": "C-1001", "lines": [["ERP-POT", 2], ["ERP-TEA", 40]], "note": "rush"},
    ],
}
RETRIES = 5


def call(base: str, token: str, method: str, path: str, body: Any, key: str) -> tuple[int, Any]:
    """One write and its (status, answer); transient failures are retried with the same key."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Idempotency-Key": key}
    data = json.dumps(body).encode()
    for attempt in range(RETRIES):
        request = urllib.request.Request(base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            if exc.code not in (429, 500, 502, 503, 504) or attempt == RETRIES - 1:
                raise SystemExit(f"{method} {path}: {exc.code} {exc.read().decode()}") from None
            time.sleep(float(exc.headers.get("Retry-After") or 2**attempt))
        except OSError:  # the connection failed: the CRM may or may not have the request
            if attempt == RETRIES - 1:
                raise
            time.sleep(2**attempt)
    raise AssertionError("unreachable")


def sync(base: str, token: str, erp: dict[str, Any]) -> dict[str, int]:
    run = uuid.uuid4().hex  # one key per request of this run; a retry reuses it
    quote = urllib.parse.quote
    for p in erp["products"]:
        fields = {k: v for k, v in p.items() if k != "sku"}
        path = f"/products/by-sku/{quote(p['sku'], safe='')}"
        call(base, token, "PUT", path, fields, f"{run}-p-{p['sku']}")
    counts = {"customers_created": 0, "customers_updated": 0}
    for c in erp["customers"]:
        # force: the ERP's number is the identity; a look-alike name is no reason to stop.
        fields = {k: v for k, v in c.items() if k != "ref"} | {"force": True}
        path = f"/customers/by-ref/{quote(c['ref'], safe='')}"
        status, _ = call(base, token, "PUT", path, fields, f"{run}-c-{c['ref']}")
        counts["customers_created" if status == 201 else "customers_updated"] += 1
    orders = [
        {
            "external_ref": o["ref"],
            "customer_external_ref": o["customer"],
            "note": o.get("note", ""),
            "lines": [{"sku": sku, "quantity": qty} for sku, qty in o["lines"]],
        }
        for o in erp["orders"]
    ]
    _, made = call(base, token, "POST", "/orders/bulk", {"orders": orders}, f"{run}-orders")
    return {**counts, "orders_created": made["created"], "orders_existing": made["existing"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the bot's HTTP server")
    parser.add_argument("--data", help="a JSON file shaped like SAMPLE (default: the built-in sample)")
    args = parser.parse_args()
    token = os.environ.get("CRM_API_TOKEN") or sys.exit("Set CRM_API_TOKEN to a token with read,write.")
    erp = SAMPLE if args.data is None else json.loads(Path(args.data).read_text(encoding="utf-8"))
    print(json.dumps(sync(args.url.rstrip("/") + "/api/v1", token, erp)))


if __name__ == "__main__":
    main()
