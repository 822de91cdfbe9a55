"""Validation of customer fields given as key=value: built-in ones and custom ones."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from handlers import quiet_hours
from handlers.errors import UserError

BUILTIN = ("name", "email", "phone", "company", "owner", "status", "tags", "timezone", "quiet_hours")
STATUSES = ("lead", "prospect", "active", "inactive", "churned")
MAX_NAME = 200
MAX_CUSTOM_VALUE = 500
MAX_CUSTOM_FIELDS = 50
# RFC 6531: the local part may hold any non-ASCII letter (chloé@…); the domain may be an
# internationalised one (bücher.example), checked through its IDNA (xn--) form.
_EMAIL_LOCAL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~\u0080-\U0010ffff-]+$")
_DOMAIN_ASCII = re.compile(r"^[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+$")
_PHONE_CHARS = re.compile(r"^\+?[\d\s().-]+$")
_CUSTOM_KEY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_TAG = re.compile(r"^[\w-]{1,32}$")
# Keys that would shadow a column or confuse exports.
_RESERVED = frozenset({"id", "owner_rep_id", "source", "created_at", "updated_at", "deleted_at", "custom"})


@dataclass(slots=True)
class FieldChanges:
    """Validated changes: column values, custom values (None removes), and an owner name."""

    builtin: dict[str, Any] = field(default_factory=dict)
    custom: dict[str, str | None] = field(default_factory=dict)
    owner: str | None = None


def _valid_email(email: str) -> bool:
    local, at, domain = email.rpartition("@")
    if not at or not local or not _EMAIL_LOCAL.match(local) or len(local.encode()) > 64:
        return False
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return bool(_DOMAIN_ASCII.match(ascii_domain)) and not any(
        part.startswith("-") or part.endswith("-") for part in ascii_domain.split(".")
    )


def normalise_email(value: str) -> str:
    email = unicodedata.normalize("NFC", value.strip()).lower()
    if len(email) > 254 or any(c.isspace() for c in email) or not _valid_email(email):
        raise UserError(f"{value!r} is not an email address (like name@example.com).")
    return email


def normalise_phone(value: str) -> str:
    """Keep a leading + and the digits: '+1 (555) 010-0100' -> '+15550100100'."""
    raw = value.strip()
    digits = re.sub(r"\D", "", raw)
    if not _PHONE_CHARS.match(raw) or not 7 <= len(digits) <= 15:
        raise UserError(f"{value!r} is not a phone number (7 to 15 digits, + allowed).")
    return ("+" if raw.startswith("+") else "") + digits


def _zone_name(value: str) -> str:
    name = value.strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UserError(f"{value!r} is not a time zone (use a name like Europe/Berlin).") from None
    return name


def check_name(value: str, what: str = "name") -> str:
    name = " ".join(value.split())
    if not name:
        raise UserError(f"The {what} can't be empty.")
    if len(name) > MAX_NAME:
        raise UserError(f"The {what} is too long ({len(name)} characters; at most {MAX_NAME}).")
    return name


def parse_fields(pairs: list[tuple[str, str]], *, allow_name: bool = True) -> FieldChanges:
    changes = FieldChanges()
    seen: set[str] = set()
    for key, value in pairs:
        if key in seen:
            raise UserError(f"{key} is given twice.")
        seen.add(key)
        if key == "name":
            if not allow_name:
                raise UserError("Give the name before the key=value pairs.")
            changes.builtin["name"] = check_name(value)
        elif key == "email":
            changes.builtin["email"] = normalise_email(value) if value else ""
        elif key == "phone":
            changes.builtin["phone"] = normalise_phone(value) if value else ""
        elif key == "company":
            changes.builtin["company"] = check_name(value, "company") if value else ""
        elif key == "status":
            status = value.strip().lower()
            if status not in STATUSES:
                raise UserError(f"status must be one of {', '.join(STATUSES)}; got {value!r}.")
            changes.builtin["status"] = status
        elif key == "tags":
            tags = [t.strip().lower() for t in value.split(",") if t.strip()]
            bad = [t for t in tags if not _TAG.match(t)]
            if bad:
                raise UserError(f"Tags are words of letters, digits, - or _: {bad[0]!r} is not.")
            changes.builtin["tags"] = sorted(set(tags))
        elif key == "owner":
            changes.owner = value.strip()
        elif key == "timezone":
            changes.builtin["timezone"] = _zone_name(value) if value.strip() else None
        elif key == "quiet_hours":
            # Empty: back to the team's quiet hours (CRM_QUIET_HOURS); "off": none for them.
            changes.builtin["quiet_hours"] = quiet_hours.normalise(value) if value.strip() else None
        elif key in _RESERVED:
            raise UserError(f"{key} can't be set by hand.")
        elif _CUSTOM_KEY.match(key):
            if len(value) > MAX_CUSTOM_VALUE:
                raise UserError(f"{key} is too long (at most {MAX_CUSTOM_VALUE} characters).")
            changes.custom[key] = value.strip() or None
        else:
            raise UserError(
                f"{key!r} is not a field name. Built-in fields: {', '.join(BUILTIN)}; "
                "custom fields are lower-case words like industry or contract_end."
            )
    if len(changes.custom) > MAX_CUSTOM_FIELDS:
        raise UserError(f"At most {MAX_CUSTOM_FIELDS} custom fields at once.")
    return changes
