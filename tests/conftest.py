"""Shared fixtures: a migrated temporary store on each database the run covers (SQLite, and
PostgreSQL with a fresh database per test), a fixed clock, actors, and a guard that fails any
test opening a socket to a non-loopback address."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import shutil
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from crm_store.engine import create_engine
from crm_store.migrate import upgrade
from crm_store.store import Store
from handlers.context import HandlerSettings, Services
from handlers.lookup import CustomerLookup
from handlers.messages import Actor, Message, Reply
from handlers.people import customer_actor, staff_actor
from handlers.router import Router
from nlp.sentiment import SentimentClassifier
from tests import databases, postgres

# A Monday, so weekday arithmetic in tests is easy to follow.
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: object) -> object:
    if isinstance(address, tuple) and address:
        host = str(address[0])
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            ip = ipaddress.ip_address(socket.gethostbyname(host)) if host != "localhost" else None
        if ip is not None and not ip.is_loopback:
            raise OSError(f"test tried to reach {host}: tests must stay on loopback")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "sqlite_only(reason): the test is about SQLite itself; its PostgreSQL run is skipped, saying why",
    )


def pytest_report_header(config: pytest.Config) -> str:
    return f"store tests run on: {', '.join(databases.selected(os.environ))} ({databases.VARIABLE})"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that takes a store (``db_url``, ``store``, ``empty_db_url``...) runs once per
    database in CRM_TEST_DATABASES; a test marked sqlite_only skips its PostgreSQL run, with why."""
    if "backend" not in metafunc.fixturenames:
        return
    only = metafunc.definition.get_closest_marker("sqlite_only")
    params = []
    for name in databases.selected(os.environ):
        marks = []
        if only is not None and name != "sqlite":
            reason = only.kwargs.get("reason") or (only.args[0] if only.args else "")
            assert reason, f"{metafunc.definition.nodeid}: sqlite_only needs a reason"
            marks.append(pytest.mark.skip(reason=f"SQLite only: {reason}"))
        params.append(pytest.param(name, marks=marks, id=name))
    metafunc.parametrize("backend", params, indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """The database this run of the test uses: "sqlite" or "postgres"."""
    return str(request.param)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated PostgreSQL database per session (per xdist worker) that each test's fresh
    database is copied from (Alembic per test is slow); dropped with the session."""
    url = databases.run_aside(postgres.create_database(env=os.environ))

    async def _migrate() -> None:
        engine = create_engine(url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    databases.run_aside(_migrate())
    yield url
    databases.drop_later(url)
    databases.wait_for_drops()


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate once per session; each test copies the file (Alembic per test is slow)."""
    path = tmp_path_factory.mktemp("template") / "crm.db"

    async def _migrate() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        await upgrade(engine)
        await engine.dispose()

    asyncio.run(_migrate())
    return path


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A fresh PostgreSQL database per test. No usable server fails the test (never a silent
    skip); CRM_TEST_SKIP_POSTGRES=1 skips it on a machine without PostgreSQL."""
    url = await postgres.create_database(env=os.environ)
    try:
        yield url
    finally:
        await postgres.drop_database(url)


@pytest.fixture(scope="session")
def crm_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CRM_DATA_DIR shared by the session, so the sentiment model is trained once."""
    return tmp_path_factory.mktemp("crm-data")


@pytest.fixture(scope="session")
def classifier(crm_data_dir: Path) -> SentimentClassifier:
    return SentimentClassifier.load_or_train(crm_data_dir / "models")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sqlite_url(tmp_path: Path, migrated_template: Path) -> str:
    """A migrated SQLite store whatever the run's databases (for tests comparing the two)."""
    target = tmp_path / "crm.db"
    shutil.copy(migrated_template, target)
    return f"sqlite+aiosqlite:///{target}"


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A migrated store of its own on this run's database: a copy of the SQLite template, or a
    fresh PostgreSQL database made from the session's template (dropped after the test)."""
    if backend == "sqlite":
        yield str(request.getfixturevalue("sqlite_url"))
        return
    template = str(request.getfixturevalue("pg_template"))
    url = databases.run_aside(postgres.create_database(env=os.environ, template=template))
    yield url
    databases.drop_later(url)


@pytest.fixture
def empty_db_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """An empty store of its own on this run's database (for migrations and `crm-bot` processes,
    which migrate on start)."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'crm.db'}"
        return
    url = databases.run_aside(postgres.create_database(env=os.environ))
    yield url
    databases.drop_later(url)


@pytest.fixture
async def store(db_url: str, clock: FakeClock) -> AsyncIterator[Store]:
    s = Store.open(db_url, clock=clock)
    yield s
    await s.close()


def services_for(store: Store, **settings: Any) -> Services:
    """Handler services over ``store`` with these HandlerSettings (e.g. customer_access="owner")."""
    return Services(
        store=store,
        lookup=CustomerLookup(store, refresh_seconds=0),
        settings=HandlerSettings(default_timezone="UTC", **settings),
    )


@pytest.fixture
def services(store: Store) -> Services:
    return services_for(store)


@pytest.fixture
def router(services: Services) -> Router:
    return Router(services)


@pytest.fixture
async def rep(store: Store) -> Actor:
    return await staff_actor(store, platform="console", user_id="sam", display_name="Sam", role="rep")


@pytest.fixture
async def other_rep(store: Store) -> Actor:
    return await staff_actor(store, platform="console", user_id="priya", display_name="Priya", role="rep")


@pytest.fixture
async def manager(store: Store) -> Actor:
    return await staff_actor(store, platform="console", user_id="dana", display_name="Dana", role="manager")


@pytest.fixture
async def admin(store: Store) -> Actor:
    return await staff_actor(store, platform="console", user_id="ada", display_name="Ada", role="admin")


@pytest.fixture
async def customer(store: Store) -> Actor:
    return await customer_actor(store, platform="telegram", user_id="1001", display_name="Carla Customer")


class Chat:
    """Say things to the router as one actor; keeps the last reply for button presses."""

    def __init__(self, router: Router, actor: Actor) -> None:
        self.router = router
        self.actor = actor
        self.last: Reply | None = None

    async def say(self, text: str) -> Reply:
        self.last = await self.router.handle(Message(actor=self.actor, text=text))
        return self.last

    async def press(self, action: str) -> Reply:
        self.last = await self.router.handle(Message(actor=self.actor, action=action))
        return self.last


@pytest.fixture
def chat(router: Router, rep: Actor) -> Chat:
    return Chat(router, rep)


def all_text(reply: Reply) -> str:
    """Everything a person would read in a reply, for assertions."""
    parts = [reply.title, reply.text, reply.context]
    parts += [f"{f.label}: {f.value}" for f in reply.fields]
    parts += [f"{i.text} {i.detail}" for i in reply.items]
    parts += [b.label for b in reply.buttons]
    return "\n".join(p for p in parts if p)


def buttons(reply: Reply) -> list[str]:
    return [b.action for b in reply.buttons] + [b.action for i in reply.items for b in i.buttons]


def pytest_sessionfinish(session: pytest.Session) -> None:
    databases.wait_for_drops()
