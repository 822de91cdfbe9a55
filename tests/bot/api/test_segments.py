"""/api/v1/segments: the latest run's segments with sizes and descriptions, and one segment's
customers a page at a time; unknown slugs and bad cursors are clear answers."""

from __future__ import annotations

import httpx

from crm_store.store import Store
from handlers.segment_run import recompute_segments
from tests.bot.api.conftest import AUTH
from tests.segment_book import plant


async def test_before_any_run_the_list_is_empty(api: httpx.AsyncClient) -> None:
    listing = await api.get("/segments", headers=AUTH)
    assert listing.status_code == 200 and listing.json() == {"items": [], "customers": 0}
    missing = await api.get("/segments/champions/customers", headers=AUTH)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


async def test_segments_and_their_customers_page_by_page(api: httpx.AsyncClient, store: Store) -> None:
    book = await plant(store)
    await recompute_segments(store)
    listing = (await api.get("/segments", headers=AUTH)).json()
    sizes = [s["size"] for s in listing["items"]]
    assert sizes == sorted(sizes, reverse=True) and sum(sizes) == listing["customers"] == 70
    assert abs(sum(s["share"] for s in listing["items"]) - 1.0) < 1e-9
    top = listing["items"][0]
    assert top["description"] and top["summary"].startswith("Median: ") and "frequency" in top["medians"]

    members: list[int] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 7}
        if cursor:
            params["cursor"] = cursor
        response = await api.get(f"/segments/{top['slug']}/customers", params=params, headers=AUTH)
        assert response.status_code == 200, response.text
        members += [c["id"] for c in response.json()["items"]]
        pages += 1
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break
    assert len(members) == top["size"] == len(set(members)) and members == sorted(members)
    assert pages == -(-top["size"] // 7)
    # The planted groups come out whole: a segment's members share one group.
    assert len({book.group_of(i) for i in members}) == 1
    assert (await api.get("/segments/nope/customers", headers=AUTH)).status_code == 404
    bad = await api.get(f"/segments/{top['slug']}/customers", params={"cursor": "x!"}, headers=AUTH)
    assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["field"] == "cursor"
    assert (await api.get("/segments")).status_code == 401
