"""The ``ebank`` command as an operator runs it: a fresh database, the demo, staff, clearing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ebank.common.crypto import generate_keys_document
from ebank.config import PROJECT_ROOT
from tests.conftest import need_postgres


def run(
    args: list[str], env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ebank.cli", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def environment(tmp_path: Path, database_url: str) -> dict[str, str]:
    keys = generate_keys_document()
    data_keys = ",".join(f"{k}:{v}" for k, v in keys["data_keys"].items())  # type: ignore[attr-defined]
    env = {k: v for k, v in os.environ.items() if not k.startswith("EBANK_")}
    env.update(
        {
            "EBANK_DATABASE_URL": database_url,
            "EBANK_VAR_DIR": str(tmp_path / "var"),
            "EBANK_DATA_KEYS": data_keys,
            "EBANK_LOOKUP_KEY": str(keys["lookup_key"]),
            "EBANK_ARGON2_TIME_COST": "1",
            "EBANK_ARGON2_MEMORY_KIB": "1024",
            "COLUMNS": "200",
        }
    )
    return env


def test_a_fresh_sqlite_bank_from_the_command_line(tmp_path: Path) -> None:
    env = environment(tmp_path, f"sqlite:///{tmp_path / 'var' / 'bank.db'}")
    upgraded = run(["db", "upgrade"], env)
    assert upgraded.returncode == 0, upgraded.stderr
    latest = max(p.name[:4] for p in (PROJECT_ROOT / "migrations" / "versions").glob("0*.py"))
    assert f"revision {latest}" in upgraded.stdout
    seeded = run(["demo"], env)
    assert seeded.returncode == 0, seeded.stderr
    assert "ebank-demo-2026" in seeded.stdout
    assert run(["demo"], env).stdout.strip() == "The demo bank is already there."
    verified = run(["ledger", "verify"], env)
    assert verified.returncode == 0, verified.stdout
    assert "ledger OK" in verified.stdout
    assert run(["audit", "verify"], env).returncode == 0
    added = run(
        ["staff", "add", "--username", "ops1", "--role", "admin", "--display-name", "Ops"],
        env,
        stdin="ops-password-2026\nops-password-2026\n",
    )
    assert added.returncode == 0, added.stdout + added.stderr
    assert "created ops1 (admin)" in added.stdout
    weak = run(
        ["staff", "add", "--username", "ops2", "--role", "admin", "--display-name", "Ops"],
        env,
        stdin="short\nshort\n",
    )
    assert weak.returncode == 1
    assert "at least 12 characters" in weak.stdout
    unknown_role = run(
        ["staff", "add", "--username", "ops3", "--role", "king", "--display-name", "K"],
        env,
        stdin="ops-password-2026\nops-password-2026\n",
    )
    assert unknown_role.returncode == 2
    clearing = run(["clearing", "run"], env)
    assert clearing.returncode == 0
    assert "settled 0, returned 0" in clearing.stdout


@pytest.mark.postgres
def test_the_demo_refuses_a_postgres_database_without_force(tmp_path: Path) -> None:
    env = environment(tmp_path, need_postgres())
    refused = run(["demo"], env)
    assert refused.returncode == 2
    assert "--force" in refused.stdout
