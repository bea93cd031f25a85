"""``ebank aml`` as an operator runs it: the nightly scan on a fresh bank, and the evaluation on
IBM AMLSim's published sample."""

from __future__ import annotations

import csv
import json
import os
import tarfile
from pathlib import Path

import pytest
from tests.conftest import services_required
from tests.test_cli import environment, run

from ebank.config import PROJECT_ROOT

SAMPLE = Path("amlsim") / "20K_fanin200.tgz"


def shared_data() -> list[Path]:
    """Where the project's external datasets may be: ``EBANK_SHARED_DATA``, or ``../shared/data``
    beside the checkout (or beside the main checkout, for a clone elsewhere)."""
    found = [Path(os.environ["EBANK_SHARED_DATA"])] if os.environ.get("EBANK_SHARED_DATA") else []
    return [*found, PROJECT_ROOT.parent / "shared" / "data", Path("/work/shared/data")]


def test_the_nightly_scan_on_a_fresh_bank(tmp_path: Path) -> None:
    env = environment(tmp_path, f"sqlite:///{tmp_path / 'var' / 'bank.db'}")
    assert run(["db", "upgrade"], env).returncode == 0
    first = run(["aml", "scan", "--from", "2026-11-01", "--to", "2026-11-29"], env)
    assert first.returncode == 0, first.stderr
    figures = json.loads(first.stdout.strip().splitlines()[-1])
    assert (figures["from"], figures["to"], figures["alerts_created"]) == (
        "2026-11-01",
        "2026-11-29",
        0,
    )
    backwards = run(["aml", "scan", "--from", "2026-11-29", "--to", "2026-11-01"], env)
    assert backwards.returncode == 2
    assert "first day is after the last" in backwards.stdout
    assert run(["aml", "scan", "--from", "yesterday"], env).returncode == 2


@pytest.fixture(scope="module")
def amlsim_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sample = next((d / SAMPLE for d in shared_data() if (d / SAMPLE).exists()), None)
    if sample is None:
        message = f"the AMLSim sample ({SAMPLE}) is in none of {shared_data()}"
        if services_required():
            pytest.fail(message)
        pytest.skip(message)
    target = tmp_path_factory.mktemp("amlsim")
    with tarfile.open(sample) as archive:
        archive.extractall(target, filter="data")
    return target


def test_amlsim_fan_in_sample(amlsim_sample: Path, tmp_path: Path) -> None:
    """Every flagged account is a laundering account; the ones missed never made a transfer
    that differs from ordinary traffic (docs/aml.md)."""
    env = environment(tmp_path, f"sqlite:///{tmp_path / 'bank.db'}")
    alerts = tmp_path / "alerts.csv"
    result = run(["aml", "evaluate-amlsim", str(amlsim_sample), "--alerts", str(alerts)], env)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert (figures["accounts"], figures["laundering_accounts"]) == (20_000, 954)
    assert figures["precision"] == 1.0
    assert figures["recall"] >= 0.68
    with alerts.open(encoding="utf-8") as rows:
        table = list(csv.DictReader(rows))
    assert len(table) == 20_000
    assert set(table[0]) == {"account_id", "flagged", "score", "typologies"}
    flagged = [r for r in table if r["flagged"] == "1"]
    assert len(flagged) == figures["flagged"]
    assert all(r["typologies"] and float(r["score"]) > 0 for r in flagged)


def test_amlsim_needs_the_sample_files(tmp_path: Path) -> None:
    env = environment(tmp_path, f"sqlite:///{tmp_path / 'bank.db'}")
    result = run(
        ["aml", "evaluate-amlsim", str(tmp_path), "--alerts", str(tmp_path / "a.csv")], env
    )
    assert result.returncode == 2
    assert "no nodes.csv and transactions.csv" in result.stdout
