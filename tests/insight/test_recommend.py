"""The next-product model on planted structure: co-purchases, exclusions, reasons, re-buys,
best sellers, and the batch agreeing with the one-customer answer."""

from __future__ import annotations

import numpy as np

from insight.recommend import History, ItemRecommender, Purchases

NAMES = {p: (f"SKU-{p}", f"Item {p}") for p in range(1, 10)}


def _planted() -> Purchases:
    """Customers 1-20 buy items 1, 2, 3 and customers 21-40 items 4, 5, 6 (customers 1 and 21
    not yet the last of their set); customers 41-50 re-order item 9 every 30 days; customer
    22 returned item 5."""
    rows: list[tuple[int, int, int, int, float]] = []
    order = 0
    for customer in range(1, 41):
        for item in (1, 2, 3) if customer <= 20 else (4, 5, 6):
            if customer in (1, 21) and item in (3, 6):
                continue
            order += 1
            rows.append((customer, item, 1, order, float(customer)))
    for customer in range(41, 51):
        for n in range(3):
            order += 1
            rows.append((customer, 9, 2, order, 100.0 + 30 * n))
    rows.append((22, 5, -1, order + 1, 60.0))
    return Purchases.of(rows)


def test_planted_co_purchases_come_first_with_their_counts_in_words() -> None:
    model = ItemRecommender.fit(_planted(), NAMES)
    first = model.recommend(model.history_of(1), k=3, today=200.0)[0]
    assert (first.sku, first.kind) == ("SKU-3", "similar")
    # Of the 20 customers who bought item 1, 19 bought item 3 (customer 1 did not).
    assert first.reason in (
        "bought by 19 of the 20 customers who bought Item 1",
        "bought by 19 of the 20 customers who bought Item 2",
    )
    other = model.recommend(model.history_of(21), k=1, today=200.0)[0]
    # Item 4's 20 buyers include 19 with item 6; item 5 lost customer 22 to a return (18 of 19).
    assert (other.sku, other.reason) == ("SKU-6", "bought by 19 of the 20 customers who bought Item 4")


def test_nothing_bought_is_offered_again_and_a_return_takes_the_product_back() -> None:
    model = ItemRecommender.fit(_planted(), NAMES)
    for customer in (1, 2, 21, 30):
        history = model.history_of(customer)
        assert history is not None
        offered = {r.product_id for r in model.recommend(history, k=5, today=200.0)}
        assert not offered & set(history.product_ids.tolist())
    returned = model.history_of(22)
    assert returned is not None and sorted(returned.product_ids.tolist()) == [4, 6]
    assert model.f.buyers[model.f.product_ids.tolist().index(5)] == 19  # 20 buyers, 22 returned it


def test_no_history_gets_best_sellers_with_their_counts() -> None:
    model = ItemRecommender.fit(_planted(), NAMES)
    offered = model.recommend(None, k=2, today=200.0)
    assert [r.kind for r in offered] == ["best_seller", "best_seller"]
    assert [r.sku for r in offered] == ["SKU-1", "SKU-2"]  # 20 buyers each; lower id first
    assert offered[0].reason == "a best seller: bought by 20 of the 50 customers"
    unknown = model.recommend(History.of({999: 10.0}), k=1, today=200.0)
    assert unknown[0].kind == "best_seller"


def test_segment_best_sellers_count_only_the_segment() -> None:
    model = ItemRecommender.fit(_planted(), NAMES)
    among = np.arange(21, 41, dtype=np.int64)
    offered = model.best_sellers(1, among=among, segment="Champions")
    assert offered[0].sku == "SKU-4"
    assert offered[0].reason == "a best seller: bought by 20 of the 20 customers in Champions"


def test_a_consumable_is_offered_again_when_due_and_not_before_or_long_after() -> None:
    model = ItemRecommender.fit(_planted(), NAMES)
    history = model.history_of(41)  # last bought item 9 on day 160, every 30 days
    assert history is not None
    due = model.recommend(history, k=3, today=187.0)[0]
    assert (due.sku, due.kind) == ("SKU-9", "rebuy")
    assert (
        due.reason
        == "due again: last bought 27 days ago; 10 of its 10 buyers re-order it about every 30 days"
    )
    assert all(r.sku != "SKU-9" for r in model.recommend(history, k=3, today=165.0))
    assert all(r.sku != "SKU-9" for r in model.recommend(history, k=3, today=300.0))


def test_the_batch_gives_every_customer_what_one_at_a_time_gives() -> None:
    model = ItemRecommender.fit(_planted(), NAMES)
    batch = model.recommend_all(k=3, today=187.0)
    assert len(set(batch.customer_ids.tolist())) == model.customers == 50
    for customer in (1, 21, 22, 41):
        mine = np.flatnonzero(batch.customer_ids == customer)
        online = model.recommend(model.history_of(customer), k=3, today=187.0)
        assert batch.ranks[mine].tolist() == [1, 2, 3]
        assert [batch.skus[i] for i in mine] == [r.sku for r in online]
        assert [batch.reasons[i] for i in mine] == [r.reason for r in online]
        assert [batch.kinds[i] for i in mine] == [r.kind for r in online]


def test_an_empty_book_recommends_nothing() -> None:
    model = ItemRecommender.fit(Purchases.of([]), {})
    assert model.products == 0 and model.customers == 0
    assert model.recommend(None, k=5, today=0.0) == []
    assert len(model.recommend_all(k=5, today=0.0).ranks) == 0
