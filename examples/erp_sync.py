"""An ERP pushing its products, customers and orders into crm-bot through the HTTP API alone,
and hearing about tickets through signed webhooks.

    CRM_API_TOKEN=... python examples/erp_sync.py --url http://127.0.0.1:8080 [--data erp.json]
    python examples/erp_sync.py --listen 8099 --secret-file whsec.txt

Plain Python (urllib), no packages. Safe to re-run: products are upserted by SKU, customers by
their ERP number (external_ref) and orders are recorded by their ERP number, so a second run
changes nothing. Every write carries an Idempotency-Key, and a request that fails on the way
(connection reset, 5xx, 429) is retried with the same key, so the CRM does it at most once. Prints
one JSON line with what was created and what was already there.

With --listen it is the ERP's webhook receiver instead (`crm-bot webhook add URL --events
ticket.resolved` prints the secret to put in the file): each delivery's X-CRM-Signature is
checked (a wrong or stale one gets 400) and each verified event printed as one JSON line.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer
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


def verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """X-CRM-Signature is t=<unix time>,v1=<hex HMAC-SHA256 of "t.body">; refuse old ones (replays)."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    if not parts.get("t", "").isdigit() or abs(time.time() - int(parts["t"])) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts.get("v1", ""))


def listen(port: int, secret_file: Path) -> None:
    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            secret = secret_file.read_text(encoding="utf-8").strip()  # read per delivery: it may rotate
            if not verify(secret, self.headers.get("X-CRM-Signature", ""), body):
                self.send_response(400)
                self.end_headers()
                print(json.dumps({"verified": False}), flush=True)
                return
            event = json.loads(body)
            data = event.get("data", {})
            seen = {
                "verified": True,
                "type": event["type"],
                "event_id": event["id"],
                "object": data.get("object"),
            }
            print(json.dumps({**seen, "id": data.get("id"), "status": data.get("status")}), flush=True)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:  # one JSON line per event, nothing else
            pass

    server = HTTPServer(("127.0.0.1", port), Receiver)
    print(f"listening on http://127.0.0.1:{server.server_port}/", flush=True)
    server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the bot's HTTP server")
    parser.add_argument("--data", help="a JSON file shaped like SAMPLE (default: the built-in sample)")
    parser.add_argument("--listen", type=int, metavar="PORT", help="receive webhooks instead (0: any port)")
    parser.add_argument("--secret-file", type=Path, help="with --listen: the file holding the signing secret")
    args = parser.parse_args()
    if args.listen is not None:
        listen(args.listen, args.secret_file or sys.exit("--listen needs --secret-file"))
        return
    token = os.environ.get("CRM_API_TOKEN") or sys.exit("Set CRM_API_TOKEN to a token with read,write.")
    erp = SAMPLE if args.data is None else json.loads(Path(args.data).read_text(encoding="utf-8"))
    print(json.dumps(sync(args.url.rstrip("/") + "/api/v1", token, erp)))


if __name__ == "__main__":
    main()
