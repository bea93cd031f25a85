"""The web application: the JSON API under /api/v1, the pages, and the background worker."""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from ebank import __version__
from ebank.common.actor import SYSTEM
from ebank.runtime import Runtime, build_runtime
from ebank.web import problems
from ebank.web.middleware import (
    BodyLimitMiddleware,
    LocaleMiddleware,
    SecurityHeadersMiddleware,
)
from ebank.web.text import refuse_unreadable_text

log = logging.getLogger(__name__)
API_PREFIX = "/api/v1"
RETRAIN_CHECK_S = 3600.0  # how often the worker asks whether a model is due (policy: risk)


class BackgroundWorker:
    """Periodic housekeeping in the app process: train a candidate risk model when one is due,
    run the nightly AML scan, expire holds, retry undelivered notifications; optionally let the simulated counterparty bank settle queued inter-bank payments."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ebank-worker", daemon=True)
        self._next_retrain_check = 0.0

    def start(self) -> None:
        if self.rt.settings.background_interval_s > 0:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def _run(self) -> None:
        from ebank.channels.payments import expire_stale_payments
        from ebank.ledger.clearing import SimulatedCounterparty, run_clearing, send_recalls
        from ebank.ledger.service import expire_due_holds
        from ebank.risk.service import alert_abandoned_attempts, settle_expired_holds

        while not self._stop.wait(self.rt.settings.background_interval_s):
            try:
                self._retrain_if_due()
                expire_due_holds(self.rt)
                settle_expired_holds(self.rt)
                alert_abandoned_attempts(self.rt)
                expire_stale_payments(self.rt)
                self.rt.courier.flush()  # what could not be sent right after its commit
                if self.rt.settings.simulate_counterparty:
                    counterparty = SimulatedCounterparty()
                    run_clearing(self.rt, counterparty)
                    send_recalls(self.rt, counterparty)
            except Exception as exc:  # keep the worker alive; the next round retries
                log.error("background work failed: %s", type(exc).__name__)

    def _retrain_if_due(self) -> None:
        """Hourly: a candidate model when one is due; the risk event log kept to its length; the
        AML scan of the days since the last one, once a day has ended."""
        from ebank.aml.scan import scan_if_due
        from ebank.risk.configuration import retrain_if_due
        from ebank.risk.live import prune_event_log

        if time.monotonic() >= self._next_retrain_check:
            self._next_retrain_check = time.monotonic() + RETRAIN_CHECK_S
            prune_event_log(self.rt)
            retrain_if_due(self.rt, SYSTEM)
            scan_if_due(self.rt, SYSTEM)


def warm_risk_engine(rt: Runtime) -> None:
    """Build the risk engine (its store replayed from the event log) before the first request,
    not inside the first customer's transaction."""
    from ebank.risk.live import LiveRiskEngine

    if isinstance(rt.risk, LiveRiskEngine):
        rt.risk.engine()


def tune_collector(young_threshold: int) -> None:
    """Collect the young generation less often. A request or a risk decision allocates hundreds
    of objects; with Python's default (every 700 allocations) the collector ran several times per
    payment and took a fifth of the risk engine's time (docs/risk.md)."""
    gc.set_threshold(young_threshold, 10, 10)


def create_app(rt: Runtime | None = None) -> FastAPI:
    runtime = rt or build_runtime()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # What start-up built (modules, the app, the schema) lives as long as the process: out
        # of the collector's way, so that collections only walk what requests create.
        gc.collect()
        gc.freeze()
        tune_collector(runtime.settings.gc_young_threshold)
        warm_risk_engine(runtime)
        worker = BackgroundWorker(runtime)
        worker.start()
        try:
            yield
        finally:
            worker.stop()
            if rt is None:
                runtime.close()

    app = FastAPI(
        title="ebank",
        version=__version__,
        description="A secure electronic-banking platform.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,  # the bundled Swagger UI loads from a CDN; pages must work offline
        redoc_url=None,
        lifespan=lifespan,
        dependencies=[Depends(refuse_unreadable_text)],
    )
    app.state.runtime = runtime
    problems.install(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=runtime.settings.max_body_bytes)
    app.add_middleware(LocaleMiddleware, default_locale=runtime.settings.default_locale)
    app.add_middleware(SecurityHeadersMiddleware)
    app.mount(
        "/static", StaticFiles(directory=Path(__file__).parent / "web" / "static"), name="static"
    )
    _include_routers(app)
    return app


def api_routers() -> list[APIRouter]:
    """Every capability's JSON API router, mounted under :data:`API_PREFIX`."""
    from ebank.aml import api as aml_api
    from ebank.audit import api as audit_api
    from ebank.auth import api as auth_api
    from ebank.channels import api as channels_api
    from ebank.customers import api as customers_api
    from ebank.ledger import api as ledger_api
    from ebank.notify import api as notify_api
    from ebank.risk import api as risk_api
    from ebank.staff import api as staff_api
    from ebank.web import api as web_api

    # Routes are matched in order, one after another: the customers' (the busiest) come first.
    modules = (
        channels_api,
        auth_api,
        notify_api,
        web_api,
        ledger_api,
        customers_api,
        staff_api,
        risk_api,
        aml_api,
        audit_api,
    )
    return [m.router for m in modules]


def page_routers() -> list[APIRouter]:
    from ebank.aml import pages as aml_pages
    from ebank.channels import pages as channel_pages
    from ebank.risk import pages as risk_pages
    from ebank.staff import pages as staff_pages
    from ebank.web import pages as web_pages

    return [
        web_pages.router,
        staff_pages.router,
        risk_pages.router,
        aml_pages.router,
        channel_pages.router,
    ]


def _include_routers(app: FastAPI) -> None:
    for router in api_routers():
        app.include_router(router, prefix=API_PREFIX)
    for router in page_routers():
        app.include_router(router)
