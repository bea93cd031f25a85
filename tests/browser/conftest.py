"""Browser tests: the demo bank served live by uvicorn, driven by Debian's Chromium.

Each test gets its own server over a freshly seeded demo bank on each storage backend (the ``rt``
fixture of ``tests/conftest.py``), and a fresh browser context (no cookies) in a Chromium that is
started once per session. Without Chromium the tests skip with the reason, or fail when
``EBANK_REQUIRE_SERVICES=1`` (CI) requires it.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import urlsplit

import pytest
import uvicorn

from ebank.app import create_app
from ebank.runtime import Runtime
from ebank.sim import demo
from tests.conftest import services_required

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright, Response

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
STARTUP_TIMEOUT_S = 20.0


def _unavailable(reason: str) -> NoReturn:
    if services_required():
        pytest.fail(f"{reason} and EBANK_REQUIRE_SERVICES=1 requires it", pytrace=False)
    pytest.skip(reason)


def chromium_path() -> str:
    return os.environ.get("EBANK_CHROMIUM", "/usr/bin/chromium")


# --- the live server ------------------------------------------------------------------------


@dataclass
class LiveServer:
    url: str
    rt: Runtime
    seeded: demo.DemoResult


def _wait_until_healthy(url: str, thread: threading.Thread) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    last_error = "no answer"
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise RuntimeError("the live server stopped while starting")
        try:
            with urllib.request.urlopen(f"{url}/api/v1/health", timeout=2) as response:  # noqa: S310 -- our own local server
                if response.status == 200:
                    return
                last_error = f"HTTP {response.status}"
        except (urllib.error.URLError, OSError) as exc:
            last_error = f"{type(exc).__name__}: {exc}"
        time.sleep(0.05)
    raise RuntimeError(f"the live server did not answer /api/v1/health: {last_error}")


@pytest.fixture
def live_server(rt: Runtime) -> Iterator[LiveServer]:
    """The application with the demo bank, on a free port of 127.0.0.1, until the test ends."""
    seeded = demo.seed(rt)
    assert seeded.created
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))  # the port is ours from here on: no race for a "free" one
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(rt), log_level="warning", access_log=False, lifespan="on", loop="asyncio"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="ebank-live-server", daemon=True
    )
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(url, thread)
        yield LiveServer(url, rt, seeded)
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()
        assert not thread.is_alive(), "the live server did not stop"


# --- the browser ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - the test extra installs it
        _unavailable(f"Playwright for Python is not installed ({exc})")
    manager = sync_playwright().start()
    yield manager
    manager.stop()


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    path = chromium_path()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        _unavailable(
            f"Chromium is not installed at {path} "
            "(apt-get install chromium fonts-noto-cjk, or set EBANK_CHROMIUM)"
        )
    try:
        launched = playwright.chromium.launch(
            executable_path=path, headless=True, args=CHROMIUM_ARGS
        )
    except Exception as exc:
        _unavailable(f"Chromium at {path} does not start: {str(exc).splitlines()[0]}")
    yield launched
    launched.close()


@dataclass
class Visit:
    """One user's browser tab on the live server, with every request the tab made."""

    page: Page
    server: LiveServer
    requests: list[str] = field(default_factory=list)
    refused_by_policy: list[str] = field(default_factory=list)  # content security policy

    def goto(self, path: str) -> Response:
        response = self.page.goto(self.server.url + path)
        assert response is not None
        return response

    def text(self) -> str:
        return self.page.locator("body").inner_text()

    def foreign_requests(self) -> list[str]:
        """Requests that left the live server (a CDN, a font service, an analytics beacon…)."""
        own = urlsplit(self.server.url)
        return [
            url
            for url in self.requests
            if (urlsplit(url).scheme, urlsplit(url).netloc) != (own.scheme, own.netloc)
        ]

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def log_in(self, username: str, password: str = demo.DEMO_STAFF_PASSWORD) -> None:
        """Fill and send the staff login form (the page must be the login page)."""
        self.page.locator("#username").fill(username)
        self.page.locator("#password").fill(password)
        self.page.locator("form.card button[type=submit]").click()
        self.page.wait_for_load_state()


@pytest.fixture
def visit(browser: Browser, live_server: LiveServer) -> Iterator[Visit]:
    """A fresh browser context (no cookies) whose browser asks for Chinese, like the bank's
    customers' browsers do."""
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(15_000)
    page = context.new_page()
    tab = Visit(page, live_server)

    def record(request: Any) -> None:
        tab.requests.append(request.url)

    def note_refusal(message: Any) -> None:
        if "Content Security Policy" in message.text:
            tab.refused_by_policy.append(message.text)

    page.on("request", record)
    page.on("console", note_refusal)
    try:
        yield tab
    finally:
        context.close()
    # Every flow works under the pages' security policy: nothing it needs was refused.
    assert tab.refused_by_policy == []


def backend_id(request: pytest.FixtureRequest) -> str:
    """``sqlite`` or ``postgres``: the storage backend a test runs on (for artifact names)."""
    callspec = getattr(request.node, "callspec", None)
    return str(callspec.params.get("database_url", "run")) if callspec else "run"
