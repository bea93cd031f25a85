"""Fixtures shared by every test.

Storage tests run twice: on SQLite (a fresh file per test, copied from a migrated template) and on
PostgreSQL (a schema of its own per test session, emptied between tests). PostgreSQL and Redis
tests skip with a printed reason when the service is absent, unless ``EBANK_REQUIRE_SERVICES=1``
(set by ``.ci/run``) makes their absence a failure.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from ebank.app import create_app
from ebank.common.actor import Actor
from ebank.common.clock import ManualClock
from ebank.common.crypto import generate_keys_document
from ebank.config import PROJECT_ROOT, Settings
from ebank.db import Database, normalize_url
from ebank.ledger.service import ensure_internal_accounts
from ebank.migrate import upgrade
from ebank.risk.assessment import PermissiveAssessor
from ebank.runtime import Runtime, build_runtime
from ebank.schema import metadata
from ebank.staff.permissions import Role
from ebank.staff.service import create_staff

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
# 2026-11-23 10:00 in Shanghai: a Monday, inside banking hours.
START = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
STAFF_PASSWORD = "correct-horse-42-battery"


def services_required() -> bool:
    return os.environ.get("EBANK_REQUIRE_SERVICES", "") == "1"


def postgres_url() -> str:
    return os.environ.get("EBANK_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def _postgres_reachable(url: str) -> str | None:
    try:
        engine = create_engine(normalize_url(url), connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


def need_redis() -> str:
    """The Redis URL, or skip (fail when services are required) with the reason."""
    import redis

    url = os.environ.get("EBANK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        message = f"Redis at {url} is not reachable ({type(exc).__name__})"
        if services_required():
            pytest.fail(message + " and EBANK_REQUIRE_SERVICES=1 requires it", pytrace=False)
        pytest.skip(message)
    return url


def need_postgres() -> str:
    """The PostgreSQL URL, or skip (fail when services are required) with the reason."""
    url = postgres_url()
    problem = _postgres_reachable(url)
    if problem:
        message = f"PostgreSQL at {url} is not reachable ({problem})"
        if services_required():
            pytest.fail(message + " and EBANK_REQUIRE_SERVICES=1 requires it", pytrace=False)
        pytest.skip(message)
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = Database(f"sqlite:///{path}")
    upgrade(db)
    db.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_schema() -> Iterator[str]:
    url = need_postgres()
    schema = f"ebank_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(normalize_url(url))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    scoped = f"{url}?options=-csearch_path%3D{schema}"
    db = Database(scoped)
    upgrade(db)
    db.dispose()
    yield scoped
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _empty_postgres(url: str) -> None:
    tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    engine = create_engine(normalize_url(url))
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        conn.execute(
            text("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, :h)"), {"h": "0" * 64}
        )
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated, empty database on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "ebank.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_schema")
    _empty_postgres(url)
    return str(url)


def make_settings(database_url: str, tmp_path: Path, **overrides: object) -> Settings:
    keys = generate_keys_document()
    data_keys = ",".join(f"{k}:{v}" for k, v in keys["data_keys"].items())  # type: ignore[attr-defined]
    values: dict[str, object] = {
        "database_url": database_url,
        "var_dir": tmp_path / "var",
        "policy_dir": PROJECT_ROOT / "policies",
        "data_keys": data_keys,
        "lookup_key": keys["lookup_key"],
        "background_interval_s": 0,
        "argon2_time_cost": 1,
        "argon2_memory_kib": 1024,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def rt(database_url: str, tmp_path: Path, clock: ManualClock) -> Iterator[Runtime]:
    runtime = build_runtime(make_settings(database_url, tmp_path), clock=clock)
    ensure_internal_accounts(runtime)
    yield runtime
    runtime.close()


@pytest.fixture
def permissive_risk(rt: Runtime) -> None:
    """For tests about something else than risk whose customers were registered a moment ago:
    the live engine would hold their first large transfers (scenario S7, tests/risk)."""
    rt.risk = PermissiveAssessor()


@pytest.fixture
def client(rt: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(rt)) as test_client:
        yield test_client


TELLER = Actor("staff", "9001", Role.TELLER.value)
SUPERVISOR = Actor("staff", "9002", Role.SUPERVISOR.value)


@dataclass
class StaffLogins:
    """One logged-in staff user per role, created on first use; ``headers(role)`` for requests."""

    rt: Runtime
    client: TestClient

    def __post_init__(self) -> None:
        self._tokens: dict[Role, str] = {}
        self._created: set[Role] = set()

    def token(self, role: Role) -> str:
        if role not in self._tokens:
            username = f"{role.value.replace('_', '')}1"
            if role not in self._created:
                create_staff(
                    self.rt,
                    Actor("system", "test", None),
                    username=username,
                    display_name=f"Test {role.value}",
                    role=role,
                    password=STAFF_PASSWORD,
                )
                self._created.add(role)
            response = self.client.post(
                "/api/v1/staff/sessions", json={"username": username, "password": STAFF_PASSWORD}
            )
            assert response.status_code == 201, response.text
            self._tokens[role] = response.json()["token"]
        return self._tokens[role]

    def headers(self, role: Role, locale: str = "en") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role)}", "Accept-Language": locale}

    def restarted(self, rt: Runtime, client: TestClient) -> StaffLogins:
        """The same staff users, logging in to a restarted bank."""
        again = StaffLogins(rt, client)
        again._created = set(self._created)
        return again

    def log_in_again(self) -> None:
        """After the clock moved past the sessions' lifetime."""
        self._tokens.clear()


@pytest.fixture
def staff(rt: Runtime, client: TestClient) -> StaffLogins:
    return StaffLogins(rt, client)
