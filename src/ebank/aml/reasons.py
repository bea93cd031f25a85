"""What each typology means, in the reader's language: its name, and a sentence saying why an
alert was raised from the alert's facts. The suspicious-report narrative is drafted from the same
sentences (in Chinese, the regulator's language)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from ebank.common.i18n import N_, gettext
from ebank.common.money import format_amount

TYPOLOGY_LABELS: dict[str, str] = {
    "pass_through": N_("Pass-through (in and out quickly)"),
    "fan_in": N_("Fan-in (many payers)"),
    "fan_out": N_("Fan-out (many payees)"),
    "gather_scatter": N_("Gather-scatter"),
    "concentrated_dispersed": N_("Concentrated in, dispersed out"),
    "scatter_gather": N_("Scatter-gather"),
    "cycle": N_("Funds cycling back"),
    "structuring": N_("Structuring under the reporting threshold"),
    "split_payments": N_("Payments split into pieces"),
    "turnover_vs_profile": N_("Turnover beyond the declared scale"),
    "purpose_vs_scope": N_("Purpose outside the business scope"),
    "payroll_without_history": N_("Salary with no payroll history"),
    "dormant_reactivated": N_("Dormant account suddenly active"),
    "shared_identifier": N_("Device or phone shared by customers"),
}

Money = Callable[[Any], str]  # minor units → the amount as the reader writes it

_SENTENCES: dict[str, str] = {
    "pass_through": N_(
        "{inflow} came in and {outflow} went out within {days} day(s); {retained} was kept."
    ),
    "fan_in": N_("{counterparties} payers paid in {total} within {days} days."),
    "fan_out": N_("{total} was paid out to {counterparties} payees within {days} days."),
    "gather_scatter": N_(
        "{payers} payers paid in {inflow} and {payees} payees received {outflow} within {days} days."
    ),
    "dispersed_out": N_(
        "{inflow} from {payers} payer(s) was dispersed to {payees} payees ({outflow}) within "
        "{days} days."
    ),
    "concentrated_out": N_(
        "{inflow} gathered from {payers} payers was sent on to {payees} payee(s) ({outflow}) "
        "within {days} days."
    ),
    "scatter_gather": N_(
        "{amount} spread over {intermediaries} intermediary accounts came together again at one "
        "account."
    ),
    "cycle": N_(
        "Money went round {length} accounts and came back: {sent} sent, {returned} returned."
    ),
    "structuring": N_(
        "{count} movements just under the reporting threshold of {threshold} within {days} days."
    ),
    "split_payments": N_(
        "One payee was paid {total} in {pieces} pieces, far below this payer's usual payments."
    ),
    "turnover_capital": N_(
        "{turnover} came in within {days} days: {multiple} times the registered capital of "
        "{capital}."
    ),
    "turnover_declared": N_(
        "{turnover} came in within {days} days, far above the declared monthly turnover of "
        "{declared}."
    ),
    "purpose_vs_scope": N_(
        'Purpose "{purpose}" does not fit the registered business scope "{scope}".'
    ),
    "payroll_without_history": N_(
        "{payees} individual(s) were paid {average} each on average as salary or pension, with "
        "no payroll before."
    ),
    "dormant_reactivated": N_(
        "No movement for {dormant_days} days (since {last_activity}), then {amount} moved."
    ),
    "shared_device": N_("The customer's device is also used by {others} other customer(s)."),
    "shared_phone": N_("The customer's phone number is also given by {others} other customer(s)."),
}


def typology_label(typology: str, locale: str) -> str:
    return gettext(TYPOLOGY_LABELS.get(typology, typology), locale)


def explain(
    typology: str,
    facts: dict[str, Any],
    *,
    first_day: date,
    last_day: date,
    amount: int,
    currency: str,
    locale: str,
) -> str:
    """Why the alert was raised, in a sentence of the reader's language."""

    def money(minor: Any) -> str:
        return format_amount(int(minor or 0), currency, locale)

    days = (last_day - first_day).days + 1
    key, params = _sentence(typology, facts, days=days, amount=amount, money=money)
    return gettext(_SENTENCES[key], locale, **params) if key in _SENTENCES else typology


def _sentence(
    typology: str, facts: dict[str, Any], *, days: int, amount: int, money: Money
) -> tuple[str, dict[str, Any]]:
    f = facts
    if typology == "concentrated_dispersed":
        return f.get("shape", "dispersed_out"), _flows(f, days, money)
    if typology in ("pass_through", "gather_scatter"):
        return typology, {**_flows(f, days, money), "retained": money(f.get("retained"))}
    if typology in ("fan_in", "fan_out"):
        return typology, {
            "counterparties": f.get("counterparties"),
            "total": money(f.get("total")),
            "days": days,
        }
    if typology == "turnover_vs_profile":
        if f.get("multiple_of_capital"):
            return "turnover_capital", {
                "turnover": money(f.get("turnover")),
                "days": days,
                "multiple": f.get("multiple_of_capital"),
                "capital": money(f.get("registered_capital")),
            }
        return "turnover_declared", {
            "turnover": money(f.get("turnover")),
            "days": days,
            "declared": money(f.get("declared_monthly_turnover")),
        }
    if typology == "shared_identifier":
        kind = "shared_device" if f.get("identifier") == "device" else "shared_phone"
        return kind, {"others": int(f.get("customers", 1)) - 1}
    return typology, _plain(typology, f, days=days, amount=amount, money=money)


def _flows(facts: dict[str, Any], days: int, money: Money) -> dict[str, Any]:
    return {
        "inflow": money(facts.get("inflow")),
        "outflow": money(facts.get("outflow")),
        "payers": facts.get("payers"),
        "payees": facts.get("payees"),
        "days": days,
    }


def _plain(
    typology: str, f: dict[str, Any], *, days: int, amount: int, money: Money
) -> dict[str, Any]:
    """The facts as they are, with amounts formatted."""
    amounts = {"sent", "returned", "threshold", "total", "average"}
    params = {k: money(v) if k in amounts else v for k, v in f.items()}
    params.update(days=days, amount=money(amount))
    if typology == "purpose_vs_scope":
        params["scope"] = f.get("business_scope") or ""
    return params
