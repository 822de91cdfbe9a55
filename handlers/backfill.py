"""Label stored interactions, ticket messages and feedback that have no sentiment yet."""

from __future__ import annotations

from crm_store.labels import LABELLED_TABLES
from crm_store.store import Store
from handlers.context import SentimentLabeller

BATCH = 2_000


async def backfill(
    store: Store, classifier: SentimentLabeller, *, actor: str = "cli:nlp-backfill"
) -> dict[str, int]:
    """Label every unlabelled row, a batch per transaction; returns rows labelled per table."""
    done: dict[str, int] = {}
    for kind in LABELLED_TABLES:
        done[kind] = 0
        after = 0
        while True:
            async with store.read() as tx:
                rows = await tx.labels.unlabelled(kind, after_id=after, limit=BATCH)
            if not rows:
                break
            results = classifier.classify_many([text for _, text in rows])
            async with store.write(actor) as tx:
                await tx.labels.set_labels(
                    kind, [(row_id, r.label, r.score) for (row_id, _), r in zip(rows, results, strict=True)]
                )
            done[kind] += len(rows)
            after = rows[-1][0]
    return done
