"""Finding the team member a command names: a Slack mention, an @handle, or part of their name."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from crm_store.records import IdentityRecord, RepRecord
from crm_store.store import Store
from handlers.context import Context
from handlers.errors import UserError
from nlp.text_normal import normalize

# Slack writes a mention as <@U123> or, with escaping on, <@U123|dana>.
_MENTION = re.compile(r"^<@([A-Z0-9]+)(?:\|([^>]*))?>$")
CLOSEST = 3
CHOICES = 5  # names listed when several people fit
CLOSEST_SCORE = 60.0
WHO = "a team member: their @handle, a Slack mention, or (part of) their name"


@dataclass(frozen=True, slots=True)
class _Member:
    rep: RepRecord
    name: str  # the display name, normalized
    handles: tuple[str, ...]  # chat account ids and names, normalized
    shown_handle: str  # how to name them unambiguously: "@dana", "<@U123>" or ""

    @property
    def words(self) -> set[str]:
        return {w for text in (self.name, *self.handles) for w in text.split()}

    def label(self) -> str:
        name = self.rep.display_name
        return f"{name} ({self.shown_handle})" if self.shown_handle else name


async def teammate(ctx: Context, who: str, *, usage: str) -> RepRecord:
    """The one team member ``who`` names: a Slack mention, ``@handle`` or a name, whole or an
    unambiguous part ("dana", "d whitfield"), any case and accents. Several matches are answered
    with their names and nobody is guessed; no match with the closest names."""
    return await teammate_in(ctx.store, who, usage=usage)


async def teammate_in(store: Store, who: str, *, usage: str) -> RepRecord:
    """``teammate`` outside a command (a scheduled campaign fixing its audience)."""
    text = who.strip()
    if not text:
        raise UserError(f"Who? Name {WHO}.", usage=usage)
    mention = _MENTION.match(text)
    async with store.read() as tx:
        if mention is not None:
            identity = await tx.people.identity("slack", mention.group(1))
            rep = await tx.people.rep(identity.rep_id) if identity and identity.rep_id else None
            if rep is None:
                named = mention.group(2) or mention.group(1)
                raise UserError(
                    f"{named} has not talked to the bot yet; team members appear once they have.",
                    usage=usage,
                )
            return rep
        reps = await tx.people.reps()
        identities = await tx.people.rep_identities()
    return _pick(_directory(reps, identities), text, usage=usage)


def _directory(reps: list[RepRecord], identities: list[IdentityRecord]) -> list[_Member]:
    accounts: dict[int, list[IdentityRecord]] = {}
    for identity in identities:
        if identity.rep_id is not None:
            accounts.setdefault(identity.rep_id, []).append(identity)
    members = []
    for rep in reps:
        own = accounts.get(rep.id, [])
        handles = tuple(normalize(h) for i in own for h in (i.external_id, i.display_name) if h)
        members.append(_Member(rep, normalize(rep.display_name), handles, _typeable(own)))
    return members


def _typeable(accounts: list[IdentityRecord]) -> str:
    for account in accounts:
        if account.platform == "slack":
            return f"<@{account.external_id}>"  # Slack shows this as the person's @name
    return f"@{accounts[0].external_id}" if accounts else ""


def _pick(team: list[_Member], text: str, *, usage: str) -> RepRecord:
    needle = normalize(text.lstrip("@"))
    if not needle:
        raise UserError(f"Who? Name {WHO}.", usage=usage)
    exact = [m for m in team if needle == m.name or needle in m.handles]
    found = exact or [m for m in team if _part_of(needle.split(), m.words)]
    if len(found) == 1:
        return found[0].rep
    if found:
        shown = [m.label() for m in found[:CHOICES]]
        more = f" (and {len(found) - CHOICES} more)" if len(found) > CHOICES else ""
        names = ", ".join(shown[:-1]) + f" or {shown[-1]}{more}"
        raise UserError(f"{text!r} could be {names}. Say which one, by full name or handle.", usage=usage)
    names_by_id = {m.rep.id: m.name for m in team}
    closest = process.extract(
        needle, names_by_id, scorer=fuzz.WRatio, limit=CLOSEST, score_cutoff=CLOSEST_SCORE
    )
    by_id = {m.rep.id: m for m in team}
    hint = " Closest: " + "; ".join(by_id[key].label() for _, _, key in closest) + "." if closest else ""
    # Not NotFound: the router would re-read the command as free text and might pick someone else.
    raise UserError(
        f"No team member matches {text!r}.{hint} People appear once they have talked to the bot.",
        usage=usage,
    )


def _part_of(query: list[str], words: set[str]) -> bool:
    """Every query word starts a word of the name or a handle ("dana w" -> "Dana Whitfield")."""
    return all(any(word.startswith(q) for word in words) for q in query)
