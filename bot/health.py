"""What GET /healthz reports: the problems components have raised and not yet cleared."""

from __future__ import annotations

import logging

_LOGGER = logging.getLogger(__name__)


class Health:
    """Components report a failure (``fail``) and its end (``ok``); a problem stays visible
    until the component itself has seen things work again."""

    def __init__(self) -> None:
        self._problems: dict[str, str] = {}

    def fail(self, component: str, reason: str) -> None:
        if self._problems.get(component) != reason:
            _LOGGER.error("health: %s failing: %s", component, reason)
        self._problems[component] = reason

    def ok(self, component: str) -> None:
        if self._problems.pop(component, None) is not None:
            _LOGGER.warning("health: %s recovered", component)

    @property
    def healthy(self) -> bool:
        return not self._problems

    def problems(self) -> dict[str, str]:
        return dict(self._problems)
