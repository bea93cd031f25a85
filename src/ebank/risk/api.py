"""The risk analysts' API: the alert queue and its decisions; rule-set and model versions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status

from ebank.common.i18n import current_locale
from ebank.risk import configuration, service
from ebank.risk.schemas import (
    BlockPayeeIn,
    LabelIn,
    NoteIn,
    PromoteIn,
    RuleSetIn,
    SuspendChannelIn,
    TrainIn,
)
from ebank.runtime import Runtime
from ebank.staff.permissions import Permission
from ebank.web.fields import MAX_ID
from ebank.web.security import StaffPrincipal, require, runtime

router = APIRouter(prefix="/risk", tags=["risk"])
ANALYST = Depends(require(Permission.RISK_REVIEW))
AlertPath = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get("/alerts", response_model=list[service.AlertSummary])
def alerts(
    status: Annotated[str | None, Query(max_length=10)] = "open",
    kind: Annotated[str | None, Query(max_length=10)] = None,
    customer_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    _: StaffPrincipal = ANALYST,
    rt: Runtime = Depends(runtime),
) -> list[service.AlertSummary]:
    """The queue, newest first: open alerts unless another status is asked for."""
    return service.list_alerts(rt, status=status, kind=kind, customer_id=customer_id, limit=limit)


@router.get("/alerts/{alert_id}", response_model=service.AlertDetail)
def alert(
    alert_id: AlertPath, _: StaffPrincipal = ANALYST, rt: Runtime = Depends(runtime)
) -> service.AlertDetail:
    """The event with its features, reasons, the model's top contributions and the customer's
    recent history."""
    return service.alert_detail(rt, alert_id, current_locale.get())


@router.post("/alerts/{alert_id}/release", response_model=service.AlertSummary)
def release(
    alert_id: AlertPath,
    body: NoteIn,
    principal: StaffPrincipal = ANALYST,
    rt: Runtime = Depends(runtime),
) -> service.AlertSummary:
    return service.release(rt, principal.actor, alert_id, body.note)


@router.post("/alerts/{alert_id}/void", response_model=service.AlertSummary)
def void(
    alert_id: AlertPath,
    body: NoteIn,
    principal: StaffPrincipal = ANALYST,
    rt: Runtime = Depends(runtime),
) -> service.AlertSummary:
    return service.void(rt, principal.actor, alert_id, body.note)


@router.post("/alerts/{alert_id}/close", response_model=service.AlertSummary)
def close(
    alert_id: AlertPath,
    body: NoteIn,
    principal: StaffPrincipal = ANALYST,
    rt: Runtime = Depends(runtime),
) -> service.AlertSummary:
    return service.close(rt, principal.actor, alert_id, body.note)


@router.post("/alerts/{alert_id}/label", response_model=service.AlertSummary)
def label(
    alert_id: AlertPath,
    body: LabelIn,
    principal: StaffPrincipal = ANALYST,
    rt: Runtime = Depends(runtime),
) -> service.AlertSummary:
    return service.label(rt, principal.actor, alert_id, body.label)


@router.post("/alerts/{alert_id}/block-payee", response_model=service.AlertSummary)
def block_payee(
    alert_id: AlertPath,
    body: BlockPayeeIn,
    principal: StaffPrincipal = ANALYST,
    rt: Runtime = Depends(runtime),
) -> service.AlertSummary:
    return service.block_payee(rt, principal.actor, alert_id, body.reason)


@router.post("/alerts/{alert_id}/suspend-channel", response_model=service.AlertSummary)
def suspend_channel(
    alert_id: AlertPath,
    body: SuspendChannelIn,
    principal: StaffPrincipal = ANALYST,
    rt: Runtime = Depends(runtime),
) -> service.AlertSummary:
    return service.suspend_channel(rt, principal.actor, alert_id, body.channel, body.reason)


# ------------------------------------------------------------------ rule-set and model versions

CONFIGURER = Depends(require(Permission.RISK_CONFIGURE))
VersionPath = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get("/rule-sets", response_model=list[configuration.RuleSetView])
def rule_sets(
    _: StaffPrincipal = CONFIGURER, rt: Runtime = Depends(runtime)
) -> list[configuration.RuleSetView]:
    return configuration.rule_sets(rt)


@router.post(
    "/rule-sets", response_model=configuration.RuleSetView, status_code=status.HTTP_201_CREATED
)
def draft_rule_set(
    body: RuleSetIn, principal: StaffPrincipal = CONFIGURER, rt: Runtime = Depends(runtime)
) -> configuration.RuleSetView:
    """A new version as a draft, refused with every problem if it cannot run."""
    return configuration.draft_rule_set(rt, principal.actor, body.body, body.note)


@router.get("/rule-sets/{version_id}", response_model=configuration.RuleSetView)
def rule_set(
    version_id: VersionPath, _: StaffPrincipal = CONFIGURER, rt: Runtime = Depends(runtime)
) -> configuration.RuleSetView:
    return configuration.rule_set(rt, version_id)


@router.post("/rule-sets/{version_id}/status", response_model=configuration.RuleSetView)
def move_rule_set(
    version_id: VersionPath,
    body: PromoteIn,
    principal: StaffPrincipal = CONFIGURER,
    rt: Runtime = Depends(runtime),
) -> configuration.RuleSetView:
    """Shadow, live (by another analyst than its author) or retired."""
    return configuration.move_rule_set(rt, principal.actor, version_id, body.status)


@router.get("/models", response_model=list[configuration.ModelView])
def models(
    _: StaffPrincipal = CONFIGURER, rt: Runtime = Depends(runtime)
) -> list[configuration.ModelView]:
    return configuration.models(rt)


@router.post("/models", response_model=configuration.ModelView, status_code=status.HTTP_201_CREATED)
def train_model(
    body: TrainIn, principal: StaffPrincipal = CONFIGURER, rt: Runtime = Depends(runtime)
) -> configuration.ModelView:
    """Train a candidate on the window's labelled payments."""
    return configuration.train_model(rt, principal.actor, body.train_from, body.train_to)


@router.post("/models/{version_id}/status", response_model=configuration.ModelView)
def move_model(
    version_id: VersionPath,
    body: PromoteIn,
    principal: StaffPrincipal = CONFIGURER,
    rt: Runtime = Depends(runtime),
) -> configuration.ModelView:
    return configuration.move_model(rt, principal.actor, version_id, body.status)
