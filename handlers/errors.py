"""The one user-facing error type: its text is shown; any other exception becomes an apology."""

from __future__ import annotations


class UserError(Exception):
    """Something the person can fix; the message says what and how."""

    def __init__(self, message: str, *, usage: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.usage = usage

    def __str__(self) -> str:
        if self.usage:
            return f"{self.message}\nUsage: {self.usage}"
        return self.message


class Forbidden(UserError):
    """The actor's role, or their rights over one customer, do not allow this. The router
    records every Forbidden in the audit log, naming ``customer_id`` when one is at stake."""

    def __init__(self, message: str, *, customer_id: int | None = None, usage: str | None = None) -> None:
        super().__init__(message, usage=usage)
        self.customer_id = customer_id
        self.command: str | None = None  # filled in by the router: the command that was refused


class NotFound(UserError):
    """The thing named does not exist (or is not this actor's to see)."""


class UsageError(UserError):
    """The words do not have the command's shape (as opposed to a bad value): free text such
    as "remind me to call acme at 10" lands here, and the router may read it for its meaning."""


class Conflict(UserError):
    """The request is well formed but the thing is not in a state that allows it (a reply on a
    resolved ticket, ending a relation that has ended): the HTTP API answers 409."""


class InvalidField(UserError):
    """A bad value of one named input (a date, a text): chat shows the message as any other; the
    HTTP API answers 422 naming ``field``."""

    def __init__(self, field: str, message: str, *, usage: str | None = None) -> None:
        super().__init__(message, usage=usage)
        self.field = field
