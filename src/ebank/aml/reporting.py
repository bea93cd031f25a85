"""Reports to the regulator: suspicious transaction reports on a case (drafted from its alerts,
edited, reviewed by a second officer, filed) and the large-value reports the scan produces, each
with its deadline on the business-day calendar and its export (XML, CSV;
``docs/aml-reports.md``).

A report carries the customer's real identity and account numbers — that is what the regulator
receives — so exports decrypt them; every export is in the audit trail. Screens show masked data.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ebank.aml import report_export as export
from ebank.aml.calendar import calendar_for
from ebank.aml.dataset import is_foreign_bank
from ebank.aml.models import AmlAlert, AmlCase, LargeValueReport, SuspiciousReport
from ebank.aml.reasons import explain, typology_label
from ebank.aml.service import (
    is_suspended,
    open_case_for_update,
    refuse_if_report_in_progress,
)
from ebank.audit import service as audit
from ebank.audit.service import AuditEntry
from ebank.common.actor import Actor
from ebank.common.errors import Conflict, NotFound, Unprocessable
from ebank.common.i18n import N_
from ebank.common.money import format_amount
from ebank.common.validation import require_text
from ebank.customers.models import Customer, CustomerDocument
from ebank.customers.service import DOCUMENT_PURPOSE, MOBILE_PURPOSE, NAME_PURPOSE
from ebank.ledger.clearing import PAYEE_ACCOUNT_PURPOSE, PAYEE_NAME_PURPOSE
from ebank.ledger.models import Account, OutboundTransfer, Transfer
from ebank.ledger.service import ACCOUNT_NUMBER_PURPOSE
from ebank.runtime import Runtime

NARRATIVE_PURPOSE = "aml.narrative"
REPORT_LANGUAGE = "zh-CN"  # the regulator reads Chinese
MAX_REPORT_TRANSACTIONS = 500
MAX_BATCH = 500  # large-value reports in one batch file
KIND_NAMES = {"individual": "自然人", "company": "非自然人（单位）"}
REPORT_STATUS_LABELS = {
    "draft": N_("Draft"),
    "reviewed": N_("Reviewed"),
    "filed": N_("Filed"),
    "due": N_("Due"),
}
MEDIA_TYPES = {"xml": "application/xml", "csv": "text/csv; charset=utf-8"}


@dataclass(frozen=True)
class SuspiciousReportView:
    id: int
    report_ref: str
    case_id: int
    status: str
    determined_on: date
    deadline: date
    typologies: list[str]
    narrative: str
    measures: str
    prepared_by: str
    reviewed_by: str | None
    filed_by: str | None
    filed_at: datetime | None
    version: int


@dataclass(frozen=True)
class LargeValueView:
    id: int
    report_ref: str
    customer_id: int
    customer_name: str  # masked
    transaction_day: date
    criterion: str
    direction: str
    total: int
    currency: str
    transfer_count: int
    deadline: date
    status: str
    filed_by: str | None
    filed_at: datetime | None


@dataclass(frozen=True)
class ExportFile:
    filename: str
    media_type: str
    content: bytes


# ------------------------------------------------------------------- suspicious reports


def draft_suspicious_report(rt: Runtime, actor: Actor, case_id: int) -> SuspiciousReportView:
    """A draft from the case's alerts: the facts and a narrative, due within the policy's working
    days of today's determination."""
    today = rt.local_today()
    policy = rt.policy.aml
    calendar = calendar_for(rt.settings.policy_dir, policy.calendar)
    with rt.db.write() as session:
        case = open_case_for_update(session, case_id)
        refuse_if_report_in_progress(session, case)
        alerts = _alerts(session, case.id)
        now = rt.clock.now()
        measures = "已暂停客户电子银行渠道，待审查" if is_suspended(case) else "持续监测"
        row = SuspiciousReport(
            report_ref=f"STR-{today:%Y%m%d}-{case.id:08d}",
            case_id=case.id,
            status="draft",
            determined_on=today,
            deadline=calendar.add_working_days(today, policy.suspicious_report_working_days),
            typologies=json.dumps(sorted({a.typology for a in alerts})),
            narrative_enc=rt.cipher.encrypt(
                draft_narrative(session, case, alerts), purpose=NARRATIVE_PURPOSE
            ),
            measures=measures,
            prepared_by=actor.id,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        _audit(session, rt, actor, "draft", row)
        return _view(rt, row)


def draft_narrative(session: Session, case: AmlCase, alerts: Sequence[AmlAlert]) -> str:
    """The report's narrative in Chinese: who the customer is, each suspicious feature with its
    facts, the money involved, and the conclusion."""
    customer = session.get_one(Customer, case.customer_id)
    first = min(a.first_day for a in alerts)
    last = max(a.last_day for a in alerts)
    transfers = {t for a in alerts for t in json.loads(a.transfer_ids)}
    total = _total(session, transfers)
    currency = alerts[0].currency
    lines = [
        f"{_who(customer, currency)}。",
        f"{first:%Y年%m月%d日}至{last:%Y年%m月%d日}，本行交易监测发现以下可疑特征：",
    ]
    for n, alert in enumerate(alerts, 1):
        reason = explain(
            alert.typology,
            json.loads(alert.facts),
            first_day=alert.first_day,
            last_day=alert.last_day,
            amount=alert.amount,
            currency=alert.currency,
            locale=REPORT_LANGUAGE,
        )
        lines.append(f"{n}. {typology_label(alert.typology, REPORT_LANGUAGE)}：{reason}")
    lines.append(
        f"上述可疑特征涉及交易{len(transfers)}笔，金额合计{format_amount(total, currency, REPORT_LANGUAGE)}。"
    )
    lines.append(
        "综合分析，客户交易的资金来源、用途及规模与其身份、经营范围和申报的经营规模明显不符，"
        "资金快进快出、不留余额，不具有合理的经济目的，存在洗钱嫌疑，特此报告。"
    )
    return "\n".join(lines)


def _who(customer: Customer, currency: str) -> str:
    if customer.kind != "company":
        occupation = f"，职业为{customer.occupation}" if customer.occupation else ""
        return f"该客户为自然人{occupation}"
    parts = ["该客户为单位客户"]
    if customer.registered_capital is not None:
        parts.append(
            f"注册资本{format_amount(customer.registered_capital, currency, REPORT_LANGUAGE)}"
        )
    if customer.business_scope:
        parts.append(f"登记的经营范围为“{customer.business_scope}”")
    if customer.expected_monthly_turnover is not None:
        turnover = format_amount(customer.expected_monthly_turnover, currency, REPORT_LANGUAGE)
        parts.append(f"申报月营业额{turnover}")
    return "，".join(parts)


def _total(session: Session, transfer_ids: set[str]) -> int:
    if not transfer_ids:
        return 0
    amounts = session.scalars(select(Transfer.amount).where(Transfer.id.in_(transfer_ids)))
    return sum(amounts)


def edit_suspicious_report(
    rt: Runtime, actor: Actor, report_id: int, *, narrative: str, measures: str, version: int
) -> SuspiciousReportView:
    """Change a draft's narrative and measures; the editor becomes its preparer."""
    narrative = require_text("narrative", narrative, max_length=20_000)
    measures = require_text("measures", measures, max_length=500)
    with rt.db.write() as session:
        row = _report(session, report_id, lock=True)
        _expect(row, "draft", version)
        row.narrative_enc = rt.cipher.encrypt(narrative, purpose=NARRATIVE_PURPOSE)
        row.measures, row.prepared_by = measures, actor.id
        row.updated_at, row.version = rt.clock.now(), row.version + 1
        _audit(session, rt, actor, "edit", row)
        return _view(rt, row)


def review_suspicious_report(
    rt: Runtime, actor: Actor, report_id: int, *, version: int
) -> SuspiciousReportView:
    """A second officer approves the draft: it must be complete, and not their own."""
    with rt.db.write() as session:
        row = _report(session, report_id, lock=True)
        _expect(row, "draft", version)
        if row.prepared_by == actor.id:
            raise Conflict(
                "four_eyes",
                "Another officer must review what you prepared.",
                field="report_id",
            )
        problems = export.validate_suspicious(_suspicious_export(session, rt, row, actor.id))
        if problems:
            raise Unprocessable(
                "report_incomplete",
                "The report is not complete: {problems}",
                field="narrative",
                problems=" ".join(problems),
            )
        row.status, row.reviewed_by, row.reviewed_at = "reviewed", actor.id, rt.clock.now()
        row.version += 1
        _audit(session, rt, actor, "review", row)
        return _view(rt, row)


def file_suspicious_report(
    rt: Runtime, actor: Actor, report_id: int, *, version: int
) -> SuspiciousReportView:
    """Record the reviewed report as filed with the regulator; the case is closed as reported."""
    now = rt.clock.now()
    with rt.db.write() as session:
        row = _report(session, report_id, lock=True)
        _expect(row, "reviewed", version)
        row.status, row.filed_by, row.filed_at = "filed", actor.id, now
        row.version += 1
        case = session.get_one(AmlCase, row.case_id, with_for_update=True)
        case.status, case.decided_by, case.decided_at, case.updated_at = (
            "reported",
            actor.id,
            now,
            now,
        )
        case.decision_reason = row.report_ref
        _audit(session, rt, actor, "file", row)
        return _view(rt, row)


def suspicious_report(rt: Runtime, report_id: int) -> SuspiciousReportView:
    with rt.db.read() as session:
        return _view(rt, _report(session, report_id))


def export_suspicious_report(rt: Runtime, actor: Actor, report_id: int, fmt: str) -> ExportFile:
    """The reviewed (or filed) report as the regulator receives it."""
    with rt.db.write() as session:
        row = _report(session, report_id)
        if row.status == "draft":
            raise Conflict(
                "report_not_reviewed",
                "Only a reviewed report can be exported.",
                field="report_id",
            )
        report = _suspicious_export(session, rt, row, row.reviewed_by or "")
        content = (
            export.suspicious_xml(report)
            if fmt == "xml"
            else export.suspicious_csv(report).encode("utf-8")
        )
        _audit(session, rt, actor, "export", row, format=fmt)
    return ExportFile(f"{row.report_ref}.{fmt}", MEDIA_TYPES[fmt], content)


def _alerts(session: Session, case_id: int) -> list[AmlAlert]:
    return list(
        session.scalars(select(AmlAlert).where(AmlAlert.case_id == case_id).order_by(AmlAlert.id))
    )


def _report(session: Session, report_id: int, *, lock: bool = False) -> SuspiciousReport:
    query = select(SuspiciousReport).where(SuspiciousReport.id == report_id)
    row = session.scalar(query.with_for_update() if lock else query)
    if row is None:
        raise NotFound("report_not_found", "No such report.", field="report_id")
    return row


def _expect(row: SuspiciousReport, status: str, version: int) -> None:
    if row.version != version:
        raise Conflict(
            "stale_version",
            "The report has changed since you opened it: reload it.",
            field="version",
        )
    if row.status != status:
        raise Conflict(
            "report_state",
            "The report is {status_msgid}: that step does not apply.",
            field="report_id",
            status_msgid=REPORT_STATUS_LABELS[row.status],
        )


def _view(rt: Runtime, row: SuspiciousReport) -> SuspiciousReportView:
    return SuspiciousReportView(
        id=row.id,
        report_ref=row.report_ref,
        case_id=row.case_id,
        status=row.status,
        determined_on=row.determined_on,
        deadline=row.deadline,
        typologies=json.loads(row.typologies),
        narrative=rt.cipher.decrypt(row.narrative_enc, purpose=NARRATIVE_PURPOSE),
        measures=row.measures,
        prepared_by=row.prepared_by,
        reviewed_by=row.reviewed_by,
        filed_by=row.filed_by,
        filed_at=row.filed_at,
        version=row.version,
    )


def _audit(
    session: Session,
    rt: Runtime,
    actor: Actor,
    action: str,
    row: SuspiciousReport | LargeValueReport,
    **extra: Any,
) -> None:
    entity = (
        "aml_suspicious_report" if isinstance(row, SuspiciousReport) else "aml_large_value_report"
    )
    audit.record(
        session,
        AuditEntry(
            actor,
            f"aml.report.{action}",
            entity,
            str(row.id),
            after={"status": row.status, "report_ref": row.report_ref, **extra},
        ),
        rt.clock.now(),
    )


# -------------------------------------------------------------------- the export's facts


def _suspicious_export(
    session: Session, rt: Runtime, row: SuspiciousReport, reviewer: str
) -> export.SuspiciousReport:
    case = session.get_one(AmlCase, row.case_id)
    alerts = _alerts(session, case.id)
    transfer_ids = [t for a in alerts for t in json.loads(a.transfer_ids)]
    typologies = tuple(json.loads(row.typologies))
    return export.SuspiciousReport(
        report_ref=row.report_ref,
        institution_code=rt.policy.ledger.bank_code,
        institution_name=rt.policy.name,
        reported_on=rt.local_today(),
        determined_on=row.determined_on,
        deadline=row.deadline,
        case_ref=f"AML-{case.id:08d}",
        typologies=typologies,
        suspicion_codes=typologies,
        narrative=rt.cipher.decrypt(row.narrative_enc, purpose=NARRATIVE_PURPOSE),
        measures_taken=row.measures,
        party=_party(session, rt, case.customer_id),
        transactions=_transactions(session, rt, case.customer_id, transfer_ids),
        prepared_by=row.prepared_by,
        reviewed_by=reviewer,
    )


def _party(session: Session, rt: Runtime, customer_id: int) -> export.ReportParty:
    customer = session.get_one(Customer, customer_id)
    document = session.scalar(
        select(CustomerDocument)
        .where(CustomerDocument.customer_id == customer_id)
        .order_by(CustomerDocument.id)
        .limit(1)
    )
    representative = (
        rt.cipher.decrypt(
            customer.legal_representative_enc, purpose="customer.legal_representative"
        )
        if customer.legal_representative_enc
        else None
    )
    return export.ReportParty(
        customer_ref=f"{customer.id:012d}",
        name=rt.cipher.decrypt(customer.name_enc, purpose=NAME_PURPOSE),
        kind=customer.kind,
        id_type=document.doc_type if document else "unknown",
        id_number=rt.cipher.decrypt(document.number_enc, purpose=DOCUMENT_PURPOSE)
        if document
        else "",
        nationality=customer.nationality,
        occupation_or_business=(customer.business_scope or customer.occupation or "")
        if customer.kind == "company"
        else customer.occupation or "",
        address="",
        phone=rt.cipher.decrypt(customer.mobile_enc, purpose=MOBILE_PURPOSE),
        legal_representative=representative,
        registered_capital_minor=customer.registered_capital,
    )


def _transactions(
    session: Session, rt: Runtime, customer_id: int, transfer_ids: Sequence[str]
) -> tuple[export.ReportTransaction, ...]:
    if not transfer_ids:
        return ()
    own = set(session.scalars(select(Account.id).where(Account.customer_id == customer_id)))
    rows = session.execute(
        select(Transfer, OutboundTransfer)
        .outerjoin(OutboundTransfer, OutboundTransfer.transfer_id == Transfer.id)
        .where(Transfer.id.in_(list(dict.fromkeys(transfer_ids))[:MAX_REPORT_TRANSACTIONS]))
        .order_by(Transfer.seq)
    ).all()
    accounts = _accounts(
        session, {a for t, _ in rows for a in (t.debit_account_id, t.credit_account_id)}
    )
    return tuple(_transaction(rt, t, outbound, own, accounts) for t, outbound in rows)


def _accounts(session: Session, ids: set[int]) -> dict[int, tuple[Account, Customer | None]]:
    rows = session.execute(
        select(Account, Customer)
        .outerjoin(Customer, Customer.id == Account.customer_id)
        .where(Account.id.in_(ids))
    ).all()
    return {account.id: (account, customer) for account, customer in rows}


def _transaction(
    rt: Runtime,
    transfer: Transfer,
    outbound: OutboundTransfer | None,
    own: set[int],
    accounts: dict[int, tuple[Account, Customer | None]],
) -> export.ReportTransaction:
    outgoing = transfer.debit_account_id in own
    mine, theirs = (
        (transfer.debit_account_id, transfer.credit_account_id)
        if outgoing
        else (transfer.credit_account_id, transfer.debit_account_id)
    )
    name, number, bank = _counterparty(rt, accounts[theirs], outbound if outgoing else None)
    return export.ReportTransaction(
        transaction_ref=transfer.id,
        booked_at=transfer.created_at,
        direction="out" if outgoing else "in",
        amount_minor=transfer.amount,
        currency=transfer.currency,
        account_number=_number(rt, accounts[mine][0]),
        counterparty_name=name,
        counterparty_account=number,
        counterparty_bank=bank,
        purpose=transfer.purpose or "",
        channel=transfer.channel,
        cash=transfer.code.startswith("cash_"),
        cross_border=outbound is not None
        and outgoing
        and is_foreign_bank(outbound.payee_bank, rt.policy.aml.home_country),
    )


def _counterparty(
    rt: Runtime, other: tuple[Account, Customer | None], outbound: OutboundTransfer | None
) -> tuple[str, str, str]:
    if outbound is not None:
        return (
            rt.cipher.decrypt(outbound.payee_name_enc, purpose=PAYEE_NAME_PURPOSE),
            rt.cipher.decrypt(outbound.payee_account_enc, purpose=PAYEE_ACCOUNT_PURPOSE),
            outbound.payee_bank,
        )
    account, customer = other
    if customer is None:
        return account.name, account.code or "", rt.policy.name
    return (
        rt.cipher.decrypt(customer.name_enc, purpose=NAME_PURPOSE),
        _number(rt, account),
        rt.policy.name,
    )


def _number(rt: Runtime, account: Account) -> str:
    if account.number_enc is None:
        return account.code or account.number_masked
    return rt.cipher.decrypt(account.number_enc, purpose=ACCOUNT_NUMBER_PURPOSE)


# --------------------------------------------------------------------- large-value reports


def large_value_reports(
    rt: Runtime,
    *,
    status: str | None = "due",
    customer_id: int | None = None,
    due_by: date | None = None,
    limit: int = 100,
) -> list[LargeValueView]:
    """Large-value reports, the nearest deadline first."""
    query = select(LargeValueReport, Customer.name_masked).join(
        Customer, Customer.id == LargeValueReport.customer_id
    )
    if status:
        query = query.where(LargeValueReport.status == status)
    if customer_id:
        query = query.where(LargeValueReport.customer_id == customer_id)
    if due_by:
        query = query.where(LargeValueReport.deadline <= due_by)
    query = query.order_by(LargeValueReport.deadline, LargeValueReport.id).limit(limit)
    with rt.db.read() as session:
        return [_large_view(row, name) for row, name in session.execute(query).all()]


def _large_view(row: LargeValueReport, name: str) -> LargeValueView:
    return LargeValueView(
        id=row.id,
        report_ref=row.report_ref,
        customer_id=row.customer_id,
        customer_name=name,
        transaction_day=row.transaction_day,
        criterion=row.criterion,
        direction=row.direction,
        total=row.total,
        currency=row.currency,
        transfer_count=row.transfer_count,
        deadline=row.deadline,
        status=row.status,
        filed_by=row.filed_by,
        filed_at=row.filed_at,
    )


def _large(session: Session, report_id: int, *, lock: bool = False) -> LargeValueReport:
    query = select(LargeValueReport).where(LargeValueReport.id == report_id)
    row = session.scalar(query.with_for_update() if lock else query)
    if row is None:
        raise NotFound("report_not_found", "No such report.", field="report_id")
    return row


def file_large_value_report(rt: Runtime, actor: Actor, report_id: int) -> LargeValueView:
    with rt.db.write() as session:
        row = _large(session, report_id, lock=True)
        if row.status != "due":
            raise Conflict(
                "report_state",
                "The report is {status_msgid}: that step does not apply.",
                field="report_id",
                status_msgid=REPORT_STATUS_LABELS[row.status],
            )
        row.status, row.filed_by, row.filed_at = "filed", actor.id, rt.clock.now()
        _audit(session, rt, actor, "file", row)
        name = session.get_one(Customer, row.customer_id).name_masked
        return _large_view(row, name)


def export_large_value_report(rt: Runtime, actor: Actor, report_id: int, fmt: str) -> ExportFile:
    with rt.db.write() as session:
        row = _large(session, report_id)
        report = _large_value_export(session, rt, row)
        content = (
            export.large_value_xml(report)
            if fmt == "xml"
            else export.large_value_csv([report]).encode("utf-8")
        )
        _audit(session, rt, actor, "export", row, format=fmt)
    return ExportFile(f"{row.report_ref}.{fmt}", MEDIA_TYPES[fmt], content)


def export_large_value_batch(
    rt: Runtime, actor: Actor, *, status: str | None = "due", due_by: date | None = None
) -> ExportFile:
    """Every listed large-value report in one CSV file (a row per transaction), as a bank sends
    the day's batch."""
    views = large_value_reports(rt, status=status, due_by=due_by, limit=MAX_BATCH)
    with rt.db.write() as session:
        rows = [_large(session, view.id) for view in views]
        content = export.large_value_csv([_large_value_export(session, rt, r) for r in rows])
        for row in rows:
            _audit(session, rt, actor, "export", row, format="csv", batch=True)
    return ExportFile(
        f"LVR-{rt.local_today():%Y%m%d}-{status or 'all'}.csv", MEDIA_TYPES["csv"], content.encode()
    )


def _large_value_export(
    session: Session, rt: Runtime, row: LargeValueReport
) -> export.LargeValueReport:
    return export.LargeValueReport(
        report_ref=row.report_ref,
        institution_code=rt.policy.ledger.bank_code,
        institution_name=rt.policy.name,
        reported_on=rt.local_today(),
        transaction_day=row.transaction_day,
        deadline=row.deadline,
        criterion=row.criterion,
        party=_party(session, rt, row.customer_id),
        transactions=_transactions(session, rt, row.customer_id, json.loads(row.transfer_ids)),
    )
