"""One batch of a customer CSV import: rows to field values, matched to the book, created or updated."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crm_store.records import CustomerRecord
from handlers.errors import UserError
from handlers.fields import STATUSES, parse_fields
from handlers.import_map import STATUS_WORDS, ColumnMap

if TYPE_CHECKING:
    from crm_store.store import Tx
    from handlers.imports import ImportReport

MAX_REF = 64


@dataclass(slots=True)
class Candidate:
    """A valid row: the values a new customer gets, and the non-empty ones an update sets."""

    line: int
    id: int | None
    external_ref: str
    email: str
    create: dict[str, Any]
    sets: dict[str, Any] = field(default_factory=dict)
    custom: dict[str, str] = field(default_factory=dict)


def _changes(cand: Candidate, record: CustomerRecord) -> tuple[dict[str, Any], dict[str, Any]]:
    fields: dict[str, Any] = {}
    for key, value in cand.sets.items():
        current = getattr(record, key)
        if key == "tags":
            if sorted(current) != list(value):
                fields[key] = value
        elif current != value:
            fields[key] = value
    custom = {k: v for k, v in cand.custom.items() if record.custom.get(k) != v}
    return fields, custom


def _keys(cand: Candidate) -> set[str]:
    keys = set()
    if cand.external_ref:
        keys.add(f"ref:{cand.external_ref}")
    if cand.email:
        keys.add(f"email:{cand.email}")
    return keys


class CustomerPlan:
    """Turns batches of cells into creates and updates; keeps nothing per row between batches
    (but the keys a dry run would have created, since nothing is written to find them by)."""

    def __init__(self, cmap: ColumnMap, *, width: int, upsert_by: str | None, dry_run: bool) -> None:
        self.cmap = cmap
        self.width = width
        self.upsert_by = upsert_by
        self.dry_run = dry_run
        self.reps_by_name: dict[str, int] = {}
        self.rep_ids: set[int] = set()
        self.dry_created: dict[str, int] = {}

    async def load_reps(self, tx: Tx) -> None:
        reps = await tx.people.reps()
        self.rep_ids = {r.id for r in reps}
        self.reps_by_name = {r.display_name.strip().lower(): r.id for r in reps}

    def _cell(self, cells: list[str], name: str) -> str:
        index = self.cmap.fields.get(name)
        return cells[index] if index is not None and index < len(cells) else ""

    def candidate(self, line: int, cells: list[str]) -> Candidate:
        get = self._cell
        name = get(cells, "name") or " ".join(
            p for p in (get(cells, "first_name"), get(cells, "last_name")) if p
        )
        if not name:
            raise UserError("name is empty")
        pairs = [("name", name)]
        for key in ("email", "phone", "company", "tags"):
            if get(cells, key):
                pairs.append((key, get(cells, key)))
        custom_pairs = [(key, cells[i]) for i, key in self.cmap.custom.items() if i < len(cells) and cells[i]]
        status = get(cells, "status")
        if status and self.cmap.preset:
            # A tool's own lead status is kept as it was; ours is set when it has a meaning here.
            custom_pairs.append(("lead_status", status))
            status = STATUS_WORDS.get(status.lower().replace("_", " "), "")
        if status:
            pairs.append(("status", status))
        changes = parse_fields(pairs + custom_pairs)
        sets: dict[str, Any] = dict(changes.builtin)
        custom = {k: v for k, v in changes.custom.items() if v is not None}
        raw_id = get(cells, "id")
        customer_id = None
        if raw_id:
            if not raw_id.isdigit() or len(raw_id) > 18:
                raise UserError(f"id {raw_id!r} is not a customer number")
            customer_id = int(raw_id)
        ref = get(cells, "external_ref")
        if len(ref) > MAX_REF:
            raise UserError(f"external_ref is too long (at most {MAX_REF} characters)")
        if ref:
            sets["external_ref"] = ref
        country = get(cells, "country")
        if country:
            if len(country) > 64:
                raise UserError("country is too long (at most 64 characters)")
            sets["country"] = country
        owner = self._owner(get(cells, "owner"), get(cells, "owner_rep_id"))
        if owner is not None:
            sets["owner_rep_id"] = owner
        elif get(cells, "owner"):
            custom["owner_name"] = get(cells, "owner")[:500]
        create = {**sets, "custom": custom}
        create.setdefault("status", "active" if not self.cmap.preset else "lead")
        if create["status"] not in STATUSES:  # pragma: no cover - parse_fields refuses these
            raise UserError(f"status {create['status']!r} is unknown")
        return Candidate(line, customer_id, ref, sets.get("email", ""), create, sets, custom)

    def _owner(self, name: str, rep_id: str) -> int | None:
        if rep_id.isdigit() and int(rep_id) in self.rep_ids:
            return int(rep_id)
        if name:
            return self.reps_by_name.get(name.strip().lower())
        return None

    async def apply(
        self, tx: Tx, batch: list[tuple[int, list[str]]], report: ImportReport, *, write: bool
    ) -> None:
        cands: list[Candidate] = []
        for line, cells in batch:
            if len(cells) > self.width:
                report.errors.append((line, f"{len(cells)} values for {self.width} columns; row skipped"))
                continue
            try:
                cands.append(self.candidate(line, cells))
            except UserError as exc:
                report.errors.append((line, exc.message))
        while cands:
            cands = await self._round(tx, cands, report, write=write)

    async def _round(
        self, tx: Tx, cands: list[Candidate], report: ImportReport, *, write: bool
    ) -> list[Candidate]:
        """Apply what can be applied; return rows that share a key with an earlier row of this
        round (they are matched again once that row is in the book)."""
        by_ref = await tx.customers.ids_by_external_ref(c.external_ref for c in cands)
        by_email = await tx.customers.ids_by_email(c.email for c in cands)
        wanted = {c.id for c in cands if c.id is not None} | set(by_ref.values())
        wanted |= {i for c in cands if c.email in by_email for i in by_email[c.email]}
        known = await tx.customers.get_many(sorted(wanted)) if wanted else {}
        creates: list[dict[str, Any]] = []
        updates: list[tuple[int, dict[str, Any], dict[str, Any]]] = []
        keys: set[str] = set()
        later: list[Candidate] = []
        for cand in cands:
            own = _keys(cand)
            if own & keys:
                later.append(cand)
                continue
            target = self._match(cand, known, by_ref, by_email)
            if isinstance(target, str):
                report.errors.append((cand.line, target))
                continue
            holder = by_ref.get(cand.external_ref) if cand.external_ref else None
            if target is not None and target >= 0 and holder is not None and holder != target:
                report.errors.append(
                    (
                        cand.line,
                        f"external_ref {cand.external_ref} belongs to customer #{holder}; row skipped",
                    )
                )
                continue
            keys |= own
            if target is None:
                creates.append(cand.create)
                if self.dry_run:
                    self.dry_created.update(dict.fromkeys(own, cand.line))
                continue
            if target < 0:  # a row this dry run would have created
                report.updated += 1
                continue
            fields, custom = _changes(cand, known[target])
            if fields or custom:
                updates.append((target, fields, custom))
            else:
                report.unchanged += 1
        report.imported += len(creates)
        report.updated += len(updates)
        if write and not self.dry_run:
            await tx.customers.add_many(creates, source="import")
            for customer_id, fields, custom in updates:
                await tx.customers.update(customer_id, fields=fields, custom=custom)
        return later

    def _match(
        self,
        cand: Candidate,
        known: dict[int, CustomerRecord],
        by_ref: dict[str, int],
        by_email: dict[str, list[int]],
    ) -> int | str | None:
        """The customer this row updates, None to create one, or why the row is skipped."""
        if self.upsert_by == "external_ref" and not cand.external_ref:
            return "no external_ref to match on (--upsert-by external_ref); row skipped"
        if cand.id is not None and self.upsert_by != "external_ref":
            record = known.get(cand.id)
            same = record is not None and (
                (cand.email and record.email == cand.email) or record.name == cand.create.get("name")
            )
            if record is not None and record.deleted_at is None and same:
                return record.id
        if self.upsert_by == "email" and cand.email:
            owners = by_email.get(cand.email, [])
            if len(owners) > 1:
                return f"{len(owners)} customers have this email; row skipped"
            if owners:
                return owners[0]
            if f"email:{cand.email}" in self.dry_created:
                return -1
        if cand.external_ref:
            if cand.external_ref in by_ref:
                record = known.get(by_ref[cand.external_ref])
                if record is None or record.deleted_at is not None:
                    return f"external_ref {cand.external_ref} belongs to a deleted customer; row skipped"
                return record.id
            if f"ref:{cand.external_ref}" in self.dry_created:
                return -1
            if self.upsert_by == "external_ref":
                return None
        taken = bool(by_email.get(cand.email)) or f"email:{cand.email}" in self.dry_created
        if cand.email and self.upsert_by != "email" and taken:
            return "a customer with this email already exists; row skipped (--upsert-by email updates it)"
        return None
