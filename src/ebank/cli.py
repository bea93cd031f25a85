"""The ``ebank`` command: serve the app, migrate, seed the demo, verify the ledger and audit trail."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ebank.config import get_settings

if TYPE_CHECKING:
    from ebank.audit.chain import ChainedRecord

app = typer.Typer(help="ebank — secure electronic banking.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
ledger_app = typer.Typer(help="The double-entry ledger.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit trail.", no_args_is_help=True)
clearing_app = typer.Typer(help="Inter-bank clearing.", no_args_is_help=True)
staff_app = typer.Typer(help="Staff users.", no_args_is_help=True)
risk_app = typer.Typer(help="Real-time risk.", no_args_is_help=True)
aml_app = typer.Typer(help="Anti-money-laundering monitoring.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(ledger_app, name="ledger")
app.add_typer(audit_app, name="audit")
app.add_typer(clearing_app, name="clearing")
app.add_typer(staff_app, name="staff")
app.add_typer(risk_app, name="risk")
app.add_typer(aml_app, name="aml")

console = Console()


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: EBANK_PORT or 8000).")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Serve the API and the pages."""
    import uvicorn

    settings = get_settings()
    uvicorn.run(
        "ebank.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_level="info",
        access_log=False,  # access logs carry query strings, which may hold personal data
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema, and the bank's internal accounts."""
    from ebank.ledger.service import ensure_internal_accounts
    from ebank.migrate import current_revision, upgrade
    from ebank.runtime import build_runtime

    rt = build_runtime()
    try:
        upgrade(rt.db)
        ensure_internal_accounts(rt)
        console.print(f"schema at revision [bold]{current_revision(rt.db)}[/] ({rt.db.dialect})")
    finally:
        rt.close()


@app.command()
def demo(
    force: Annotated[
        bool, typer.Option("--force", help="Seed even a PostgreSQL database (never production).")
    ] = False,
) -> None:
    """Seed the demo bank (once; a second run changes nothing). Its staff logins share a published
    password, so on anything but the embedded SQLite database it must be asked for with --force."""
    from ebank.migrate import upgrade
    from ebank.runtime import build_runtime
    from ebank.sim import demo
    from ebank.sim.demo import DEMO_STAFF, DEMO_STAFF_PASSWORD, seed

    rt = build_runtime()
    if not rt.db.is_sqlite and not force:
        rt.close()
        console.print(
            "[red]refusing to seed demo logins into a non-SQLite database; use --force[/]"
        )
        raise typer.Exit(2)
    try:
        upgrade(rt.db)
        result = seed(rt)
        if not result.created:
            console.print("The demo bank is already there.")
            return
        console.print(
            "[bold]Demo bank seeded.[/] Staff logins (password: " + DEMO_STAFF_PASSWORD + "):"
        )
        for person in DEMO_STAFF:
            console.print(f"  {person.username:<11} {person.role.value}")
        console.print(
            f"Customer 张三 online banking: login {demo.DEMO_ONLINE_LOGIN} / "
            f"{demo.DEMO_ONLINE_PASSWORD}, transaction password {demo.DEMO_TRANSACTION_PASSWORD}; "
            f"SMS codes are written to {rt.settings.var_dir / 'sms-outbox.jsonl'}"
        )
    finally:
        rt.close()


@ledger_app.command("verify")
def ledger_verify() -> None:
    """Check conservation, every balance against its postings, and every running balance."""
    from ebank.ledger.verify import verify_ledger
    from ebank.runtime import build_runtime

    rt = build_runtime()
    try:
        with _progress() as progress, rt.db.snapshot() as conn:
            task = progress.add_task("replaying postings", total=None)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            report = verify_ledger(conn, advance)
    finally:
        rt.close()
    for currency, totals in report.totals.items():
        console.print(
            f"{currency}: debits {totals['debits_posted']} = credits {totals['credits_posted']} "
            f"(pending {totals['debits_pending']} / {totals['credits_pending']})"
        )
    console.print(f"{report.accounts} accounts, {report.transfers} transfers checked")
    if report.ok:
        console.print("[green]ledger OK[/]")
        return
    for problem in report.problems:
        console.print(f"[red]✗[/] {problem}")
    console.print(f"[red]ledger FAILED: {report.problem_count} problem(s)[/]")
    raise typer.Exit(1)


@audit_app.command("verify")
def audit_verify() -> None:
    """Walk the hash chain; exit non-zero naming the first record altered, removed or reordered."""
    from ebank.audit import service as audit
    from ebank.runtime import build_runtime

    rt = build_runtime()
    try:
        with _progress() as progress, rt.db.snapshot() as conn:
            total = audit.record_count(conn)
            task = progress.add_task("checking the chain", total=total)

            def counted() -> Iterator[ChainedRecord]:
                for record in audit.iter_records(conn):
                    progress.advance(task)
                    yield record

            report = audit.verify(conn, counted())
    finally:
        rt.close()
    if report.ok:
        console.print(f"[green]audit trail OK[/]: {report.checked} records, chain intact")
        return
    console.print(f"[red]audit trail BROKEN at record {report.first_bad_seq}[/]: {report.reason}")
    raise typer.Exit(1)


@clearing_app.command("run")
def clearing_run() -> None:
    """Let the simulated counterparty bank settle or return queued inter-bank payments."""
    from ebank.ledger.clearing import SimulatedCounterparty, run_clearing
    from ebank.runtime import build_runtime

    rt = build_runtime()
    try:
        run = run_clearing(rt, SimulatedCounterparty())
    finally:
        rt.close()
    console.print(f"settled {run.settled}, returned {run.returned}")


@staff_app.command("add")
def staff_add(
    username: Annotated[str, typer.Option(help="Login name.")],
    role: Annotated[
        str,
        typer.Option(
            help="teller, supervisor, risk_analyst, aml_officer, dispute_officer, admin or auditor."
        ),
    ],
    display_name: Annotated[str, typer.Option(help="Name shown in the portal.")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
) -> None:
    """Create a staff user (the first administrator of a new installation, for instance)."""
    from ebank.common.actor import SYSTEM
    from ebank.common.errors import DomainError
    from ebank.common.i18n import gettext
    from ebank.runtime import build_runtime
    from ebank.staff.permissions import Role
    from ebank.staff.service import create_staff

    try:
        chosen = Role(role)
    except ValueError:
        console.print(f"[red]unknown role {role!r}[/]")
        raise typer.Exit(2) from None
    rt = build_runtime()
    try:
        view = create_staff(
            rt, SYSTEM, username=username, display_name=display_name, role=chosen, password=password
        )
    except DomainError as exc:
        console.print(f"[red]{gettext(exc.message, 'en', **exc.params)}[/]")
        raise typer.Exit(1) from None
    finally:
        rt.close()
    console.print(f"created {view.username} ({view.role})")


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from exc


@risk_app.command("backtest")
def risk_backtest(  # noqa: PLR0917 -- one parameter per command-line option
    transactions: Annotated[
        Path, typer.Option(exists=True, dir_okay=False, help="CSV (or .csv.gz) of transactions.")
    ],
    train_from: Annotated[str, typer.Option(help="First day of the training window.")],
    train_to: Annotated[str, typer.Option(help="Last day of the training window.")],
    test_from: Annotated[str, typer.Option(help="First day of the test window.")],
    test_to: Annotated[str, typer.Option(help="Last day of the test window.")],
    scores: Annotated[Path, typer.Option(help="Where to write transaction_id,score.")],
    label_delay_days: Annotated[int, typer.Option(min=0, help="Days until a label is known.")] = 7,
) -> None:
    """Replay labelled transactions through the live feature path, train, score the test window."""
    from ebank.risk import backtest  # the model's libraries load only for the commands using them

    try:
        windows = backtest.Windows(
            _day(train_from), _day(train_to), _day(test_from), _day(test_to), label_delay_days
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    with _progress() as progress:
        task = progress.add_task("replaying", total=None)
        try:
            result = backtest.run(
                backtest.read_transactions(transactions),
                windows,
                on_progress=lambda count: progress.update(task, completed=count),
            )
        except ValueError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from exc
    backtest.write_scores(scores, result)
    figures = result.figures()
    console.print(
        f"AUC ROC {figures['auc_roc']:.4f} · average precision "
        f"{figures['average_precision']:.4f} · card precision@100 "
        f"{figures['card_precision_at_100']:.4f}"
    )
    typer.echo(json.dumps(figures))


@aml_app.command("scan")
def aml_scan(
    first: Annotated[
        str | None, typer.Option("--from", help="First day (default: after the last scan).")
    ] = None,
    last: Annotated[str | None, typer.Option("--to", help="Last day (default: yesterday).")] = None,
) -> None:
    """Run every typology and the large-value criteria over the ledger's days."""
    from ebank.aml.scan import run_scan, scan_steps
    from ebank.common.actor import SYSTEM
    from ebank.common.errors import DomainError
    from ebank.runtime import build_runtime

    rt = build_runtime()
    steps = scan_steps(rt.policy.aml)
    try:
        with _progress() as progress:
            task = progress.add_task("scanning", total=len(steps))

            def advance(step: str) -> None:
                progress.update(task, description=step, completed=steps.index(step))

            summary = run_scan(
                rt,
                SYSTEM,
                first_day=_day(first) if first else None,
                last_day=_day(last) if last else None,
                progress=advance,
            )
            progress.update(task, description="done", completed=len(steps))
    except DomainError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    finally:
        rt.close()
    if summary.scan_id is None:
        console.print("nothing new to scan: the last scan reached yesterday")
    else:
        console.print(
            f"{summary.first_day}..{summary.last_day}: {summary.movements} movements, "
            f"{summary.alerts_created} new alerts, {summary.large_value_reports_created} new large-value reports"
        )
    typer.echo(
        json.dumps(
            {
                "scan_id": summary.scan_id,
                "from": summary.first_day.isoformat(),
                "to": summary.last_day.isoformat(),
                "movements": summary.movements,
                "alerts_created": summary.alerts_created,
                "large_value_reports_created": summary.large_value_reports_created,
                "hits_by_typology": summary.hits_by_typology,
            }
        )
    )


@aml_app.command("evaluate-amlsim")
def aml_evaluate_amlsim(
    directory: Annotated[
        Path, typer.Argument(exists=True, file_okay=False, help="The unpacked AMLSim sample.")
    ],
    alerts: Annotated[
        Path, typer.Option(help="Where to write account_id,flagged,score,typologies.")
    ],
) -> None:
    """Run the typologies over an AMLSim sample; precision, recall and F1 per account."""
    from ebank.aml.amlsim import evaluate
    from ebank.policy import load_policy

    settings = get_settings()
    aml = load_policy(settings.policy_dir, settings.policy_profile).aml
    params = aml.evaluation.get("amlsim")
    if params is None:
        console.print("[red]the policy profile has no aml.evaluation.amlsim parameters[/red]")
        raise typer.Exit(2)
    names = [n for n in type(params).model_fields if getattr(params, n) is not None]
    with _progress() as progress:
        task = progress.add_task("typologies", total=len(names))
        try:
            result = evaluate(
                directory,
                params,
                aml.large_value,
                alerts_csv=alerts,
                progress=lambda name: progress.update(
                    task, description=name, completed=names.index(name)
                ),
            )
        except (FileNotFoundError, ValueError) as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from exc
        progress.update(task, description="done", completed=len(names))
    console.print(
        f"{result.flagged} of {result.accounts} accounts flagged, {result.true_positives} of "
        f"{result.laundering} laundering accounts found: precision {result.precision:.4f} · "
        f"recall {result.recall:.4f} · F1 {result.f1:.4f}"
    )
    typer.echo(
        json.dumps(
            {
                "accounts": result.accounts,
                "laundering_accounts": result.laundering,
                "flagged": result.flagged,
                "true_positives": result.true_positives,
                "precision": round(result.precision, 4),
                "recall": round(result.recall, 4),
                "f1": round(result.f1, 4),
                "hits_by_typology": result.hits_by_typology,
            }
        )
    )


if __name__ == "__main__":
    app()
