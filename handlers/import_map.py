"""Which CSV column feeds which customer field: our own headers, --map, and the HubSpot,
Salesforce and Pipedrive contact export presets; every other column becomes a custom field."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from handlers.errors import UserError

# Fields a column can feed; anything else named in --map is a custom field.
FIELDS = (
    "id",
    "external_ref",
    "name",
    "first_name",
    "last_name",
    "email",
    "phone",
    "company",
    "status",
    "tags",
    "owner",
    "owner_rep_id",
    "country",
)
# Columns our own export writes that describe the record rather than the customer.
SYSTEM_COLUMNS = frozenset({"source", "created_at", "updated_at", "deleted_at"})
MAP_EXAMPLE = "name=Company,email=E-mail"

# Each field: the header names the tool's contact export uses (report labels and API names).
PRESETS: dict[str, dict[str, tuple[str, ...]]] = {
    "hubspot": {
        "external_ref": ("Record ID", "Contact ID", "hs_object_id"),
        "first_name": ("First Name", "firstname"),
        "last_name": ("Last Name", "lastname"),
        "email": ("Email", "email"),
        "phone": ("Phone Number", "phone"),
        "company": ("Company Name", "company"),
        "status": ("Lead Status", "hs_lead_status"),
        "owner": ("Contact owner", "Contact Owner", "hubspot_owner_id"),
        "country": ("Country/Region", "Country", "country"),
    },
    "salesforce": {
        "external_ref": ("Contact ID", "Id", "ID"),
        "first_name": ("First Name", "FirstName"),
        "last_name": ("Last Name", "LastName"),
        "email": ("Email",),
        "phone": ("Phone", "Business Phone", "Mobile Phone", "MobilePhone"),
        "company": ("Account Name", "Account.Name", "Company"),
        "status": ("Lead Status", "Status"),
        "owner": ("Contact Owner", "Owner Name", "Owner.Name"),
        "country": ("Mailing Country", "MailingCountry", "Country"),
    },
    "pipedrive": {
        "external_ref": ("Person - ID", "ID"),
        "name": ("Person - Name", "Name"),
        "first_name": ("Person - First name", "First name"),
        "last_name": ("Person - Last name", "Last name"),
        "email": ("Person - Email - Work", "Person - Email", "Email - Work", "Email"),
        "phone": ("Person - Phone - Work", "Person - Phone", "Phone - Work", "Phone"),
        "company": ("Person - Organization", "Organization - Name", "Organization"),
        "owner": ("Person - Owner", "Owner"),
        "tags": ("Person - Label", "Person - Labels", "Label", "Labels"),
    },
}
PRESET_NAMES = tuple(PRESETS)
# Lead statuses of the tools, in our words (the tool's own word is kept as custom lead_status).
STATUS_WORDS = {
    "new": "lead",
    "open": "lead",
    "in progress": "lead",
    "attempted to contact": "lead",
    "connected": "lead",
    "working - contacted": "lead",
    "open - not contacted": "lead",
    "open deal": "prospect",
    "qualified": "prospect",
    "closed - converted": "active",
    "unqualified": "inactive",
    "bad timing": "inactive",
    "closed - not converted": "inactive",
}
# Column names that must never become custom fields (they would shadow a column).
_NOT_CUSTOM = frozenset(FIELDS) | SYSTEM_COLUMNS | {"custom", "timezone", "erased_at"}
_KEY_CHARS = re.compile(r"[^a-z0-9]+")


def custom_key(header: str) -> str:
    """A column header as a custom field name: ``Job Title`` -> ``job_title``."""
    plain = unicodedata.normalize("NFKD", header.strip().lower()).encode("ascii", "ignore").decode()
    key = _KEY_CHARS.sub("_", plain).strip("_")[:32].rstrip("_")
    if not key:
        return ""
    return key if key[0].isalpha() else ("f_" + key)[:32]


def parse_map(text: str | None) -> dict[str, str]:
    """``name=Company,email=E-mail`` -> {field: column}."""
    if not text or not text.strip():
        return {}
    mapping: dict[str, str] = {}
    for part in text.split(","):
        key, sep, column = part.partition("=")
        key, column = key.strip().lower(), column.strip()
        if not sep or not key or not column:
            raise UserError(f"--map needs field=Column pairs separated by commas, like {MAP_EXAMPLE}")
        if key not in FIELDS and custom_key(key) != key:
            raise UserError(f"{key!r} is not a field: use one of {', '.join(FIELDS)} or a custom field name.")
        if key in mapping:
            raise UserError(f"{key!r} is mapped twice.")
        mapping[key] = column
    return mapping


@dataclass(slots=True)
class ColumnMap:
    """Column positions per field, and the custom field each other column fills."""

    fields: dict[str, int] = field(default_factory=dict)
    custom: dict[int, str] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    preset: str = ""

    def describe(self, headers: list[str]) -> str:
        used = ", ".join(f"{k}<-{headers[i]!r}" for k, i in self.fields.items())
        extra = ", ".join(sorted(self.custom.values()))
        return f"columns: {used}" + (f"; custom fields: {extra}" if extra else "")


def resolve(headers: list[str], *, mapping: dict[str, str], preset: str | None) -> ColumnMap:
    """Where each field comes from; refuses a --map column the file does not have."""
    if preset and preset not in PRESETS:
        raise UserError(f"--preset {preset!r} is not one of {', '.join(PRESET_NAMES)}.")
    by_name: dict[str, int] = {}
    for i, h in enumerate(headers):
        by_name.setdefault(h.strip().lower(), i)
    cmap = ColumnMap(preset=preset or "")
    wanted: dict[str, str] = {}
    if preset:
        for target, names in PRESETS[preset].items():
            found = next((n for n in names if n.lower() in by_name), None)
            if found:
                wanted[target] = found
    else:
        for target in FIELDS:
            if target in by_name:
                wanted[target] = target
        if "email" not in wanted and "e-mail" in by_name:
            wanted["email"] = "e-mail"
    for target, column in mapping.items():
        if column.strip().lower() not in by_name:
            raise UserError(f"--map {target}={column}: the file has no column {column!r}.")
        # A column mapped by hand feeds that field only, not also the field it is named after.
        for other in [t for t, c in wanted.items() if c.strip().lower() == column.strip().lower()]:
            del wanted[other]
        wanted[target] = column
    taken: set[int] = set()
    for target, column in wanted.items():
        index = by_name[column.strip().lower()]
        taken.add(index)
        if target in FIELDS:
            cmap.fields[target] = index
        else:
            cmap.custom[index] = target
    if "name" not in cmap.fields and not {"first_name", "last_name"} & set(cmap.fields):
        raise UserError(
            "The file has no name column: name it 'name', map one (--map name=Company) "
            f"or choose a --preset ({', '.join(PRESET_NAMES)})."
        )
    seen_keys = set(cmap.fields) | set(cmap.custom.values())
    for i, h in enumerate(headers):
        if i in taken:
            continue
        key = custom_key(h)
        if key in SYSTEM_COLUMNS:
            continue  # our own export's record-keeping columns: nothing to say about them
        if not key or key in _NOT_CUSTOM or key in seen_keys:
            cmap.ignored.append(h)
            continue
        seen_keys.add(key)
        cmap.custom[i] = key
    return cmap
