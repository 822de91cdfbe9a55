"""Slack channels named in commands (`in #sales`, `in sales`, `in <#C123|sales>`, `in C123`),
and the directory a front end provides to turn a name into the channel's id."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from handlers.errors import UserError

# Picked from Slack's list, a channel arrives as <#C123|name> (or <#C123>); an id may be typed.
_PICKED = re.compile(r"^<#([CG][A-Z0-9]+)(?:\|([^>]*))?>$")
_ID = re.compile(r"^#?([CG][A-Z0-9]{5,})$")
# Slack channel names: lower case, no spaces, at most 80 characters.
_NAME = re.compile(r"^#?([^\s#<>|@,]{1,80})$")


@dataclass(frozen=True, slots=True)
class Channel:
    id: str
    name: str  # without '#'; empty when only the id is known
    is_member: bool = True

    @property
    def label(self) -> str:
        return f"#{self.name}" if self.name else f"channel {self.id}"


class ChannelDirectoryError(Exception):
    """The platform could not be asked (an API error, a missing permission)."""


class ChannelDirectory(Protocol):
    """The channels the bot can see; the Slack front end lists them with conversations.list."""

    async def find(self, name: str) -> Channel | None:
        """The channel called ``name`` (lower case, no '#'), or None; may raise
        ChannelDirectoryError."""
        ...

    async def find_id(self, channel_id: str) -> Channel | None:
        """The channel with ``channel_id`` if the bot can see it, or None."""
        ...


async def resolve_channel(directory: ChannelDirectory | None, text: str) -> Channel:
    """The channel ``text`` names, one the bot can post in; a UserError that says what is wrong
    otherwise (unknown name, the bot not a member, names that cannot be looked up here)."""
    picked, typed_id = _PICKED.match(text), _ID.match(text)
    try:
        if picked is not None or typed_id is not None:
            channel_id = picked.group(1) if picked is not None else typed_id.group(1) if typed_id else ""
            given = (picked.group(2) or "") if picked is not None else ""
            known = await directory.find_id(channel_id) if directory is not None else None
            # A private channel the bot is not in is invisible to it: take the id on trust.
            channel = known or Channel(channel_id, given.strip().lower())
        else:
            named = _NAME.match(text)
            if named is None:
                raise UserError(f"{text[:40]!r} is not a channel name; name it like `#sales`.")
            name = named.group(1).lower()
            if directory is None:
                raise UserError(
                    "I can't look channel names up here: pick the channel from Slack's list "
                    "(type # and choose it) or give its id."
                )
            found = await directory.find(name)
            if found is None:
                raise UserError(
                    f"I can't see a channel called #{name}. Check the name, or invite me to it "
                    "first if it is private (`/invite @crm-bot` in the channel)."
                )
            channel = found
    except ChannelDirectoryError:
        raise UserError(
            "I couldn't ask Slack for its channels just now; pick the channel from Slack's list "
            "(type # and choose it), or try again in a minute."
        ) from None
    if not channel.is_member:
        raise UserError(
            f"I'm not in {channel.label} yet: invite me there (`/invite @crm-bot`), then subscribe again."
        )
    return channel
