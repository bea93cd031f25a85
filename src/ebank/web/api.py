"""Service-level routes: health."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlalchemy import text

from ebank import __version__
from ebank.migrate import current_revision
from ebank.runtime import Runtime
from ebank.web.security import runtime

router = APIRouter(tags=["service"])


class Health(BaseModel):
    status: str
    database: str
    schema_revision: str | None
    version: str
    policy_profile: str


@router.get("/health", response_model=Health)
def health(rt: Runtime = Depends(runtime)) -> Health:
    """Liveness and readiness: the database answers and its schema is migrated."""
    try:
        with rt.db.read() as session:
            session.execute(text("SELECT 1"))
        revision = current_revision(rt.db)
        database = "ok"
    except Exception:
        revision, database = None, "unavailable"
    return Health(
        status="ok" if database == "ok" and revision else "degraded",
        database=database,
        schema_revision=revision,
        version=__version__,
        policy_profile=rt.policy.profile,
    )
