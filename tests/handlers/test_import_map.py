"""Column mapping for customer imports: --map, the HubSpot, Salesforce and Pipedrive contact
export presets, unmapped columns as custom fields, bad mappings refused before anything is read."""

from __future__ import annotations

import pytest

from crm_store.store import Store
from handlers.errors import UserError
from handlers.import_map import custom_key, parse_map, resolve
from handlers.imports import import_customers

HUBSPOT = (
    "Record ID,First Name,Last Name,Email,Phone Number,Company Name,Lead Status,Contact owner,"
    "Create Date,Job Title\n"
    "51,Ada,Lovelace,ada@engine.example,+44 20 7946 0000,Analytical Engines,Open deal,Sam Rep,"
    "2024-01-02,CTO\n"
)
SALESFORCE = (
    "Contact ID,First Name,Last Name,Title,Account Name,Email,Phone,Mailing Country,Contact Owner,"
    "Lead Source\n"
    "0035g00000XyZ1AAQ,Grace,Hopper,Admiral,Navy Systems,grace@navy.example,555 0101 222,"
    "United States,Sam Rep,Web\n"
)
PIPEDRIVE = (
    "Person - ID,Person - Name,Person - Email - Work,Person - Phone - Work,Person - Organization,"
    "Person - Owner,Person - Label,Person - Visible to\n"
    "812,Linus Torvalds,linus@kernel.example,+358 40 123 4567,Kernel Org,Nobody,hot,Owner only\n"
)


async def _only(store: Store) -> tuple[object, ...]:
    async with store.read() as tx:
        [c] = [c async for c in tx.customers.iter_all()]
        reps = {r.id: r.display_name for r in await tx.people.reps()}
    return (
        c.name,
        c.email,
        c.phone,
        c.company,
        c.status,
        c.external_ref,
        c.country,
        reps.get(c.owner_rep_id or 0),
        c.tags,
        c.custom,
    )


async def _add_rep(store: Store) -> None:
    async with store.write("t") as tx:
        await tx.people.add_rep(display_name="Sam Rep", platform="slack", external_id="U1")


async def test_hubspot_contact_export_maps_every_named_column(store: Store) -> None:
    await _add_rep(store)
    report = await import_customers(store, HUBSPOT, actor="cli:test", preset="hubspot")
    assert (report.imported, report.errors) == (1, [])
    assert await _only(store) == (
        "Ada Lovelace",
        "ada@engine.example",
        "+442079460000",
        "Analytical Engines",
        "prospect",
        "51",
        "",
        "Sam Rep",
        (),
        {"create_date": "2024-01-02", "job_title": "CTO", "lead_status": "Open deal"},
    )


async def test_salesforce_contact_export_maps_every_named_column(store: Store) -> None:
    await _add_rep(store)
    report = await import_customers(store, SALESFORCE, actor="cli:test", preset="salesforce")
    assert (report.imported, report.errors) == (1, [])
    assert await _only(store) == (
        "Grace Hopper",
        "grace@navy.example",
        "5550101222",
        "Navy Systems",
        "lead",
        "0035g00000XyZ1AAQ",
        "United States",
        "Sam Rep",
        (),
        {"title": "Admiral", "lead_source": "Web"},
    )


async def test_pipedrive_person_export_maps_and_keeps_an_unknown_owner(store: Store) -> None:
    report = await import_customers(store, PIPEDRIVE, actor="cli:test", preset="pipedrive")
    assert (report.imported, report.errors) == (1, [])
    assert await _only(store) == (
        "Linus Torvalds",
        "linus@kernel.example",
        "+358401234567",
        "Kernel Org",
        "lead",
        "812",
        "",
        None,
        ("hot",),
        {"owner_name": "Nobody", "person_visible_to": "Owner only"},
    )
    again = await import_customers(store, PIPEDRIVE, actor="cli:test", preset="pipedrive")
    assert (again.imported, again.unchanged) == (0, 1)


async def test_map_names_the_columns_and_the_rest_become_custom_fields(store: Store) -> None:
    text = "Company,E-mail,Sector,Notes (internal)\nAcme Corp,ops@acme.example,logistics,call Mon\n"
    report = await import_customers(
        store, text, actor="cli:test", mapping=parse_map("name=Company,email=E-mail,industry=Sector")
    )
    assert (report.imported, report.errors) == (1, [])
    got = await _only(store)
    assert got[:4] == ("Acme Corp", "ops@acme.example", "", "")
    assert got[-1] == {"industry": "logistics", "notes_internal": "call Mon"}


@pytest.mark.parametrize(
    ("mapping", "preset", "message"),
    [
        ("name=Nope", None, "the file has no column 'Nope'"),
        ("name", None, "--map needs field=Column pairs"),
        ("Bad Key=Company", None, "is not a field"),
        ("name=Company,name=E-mail", None, "mapped twice"),
        (None, "zoho", "is not one of hubspot, salesforce, pipedrive"),
        (None, None, "The file has no name column"),
    ],
)
async def test_a_bad_mapping_is_refused_and_nothing_changes(
    store: Store, mapping: str | None, preset: str | None, message: str
) -> None:
    text = "Company,E-mail\nAcme Corp,ops@acme.example\n"
    with pytest.raises(UserError, match=message.replace("(", r"\(")):
        await import_customers(store, text, actor="cli:test", mapping=parse_map(mapping), preset=preset)
    async with store.read() as tx:
        assert await tx.customers.count() == 0


def test_headers_become_custom_field_names() -> None:
    assert [custom_key(h) for h in ("Job Title", "2nd Phone", "  ", "Ünïcode")] == [
        "job_title",
        "f_2nd_phone",
        "",
        "unicode",
    ]
    cmap = resolve(["name", "id", "source", "Created At", "custom", "Job", "job"], mapping={}, preset=None)
    assert cmap.fields == {"id": 1, "name": 0} and cmap.ignored == ["custom", "job"]
    assert cmap.custom == {5: "job"}
