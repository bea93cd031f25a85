"""The ``ebank`` command's help: every command an operator needs answers ``--help``."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from ebank.cli import app


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], "audit"),
        (["audit", "verify"], "hash chain"),
        (["ledger", "verify"], "conservation"),
        (["db", "upgrade"], "migrate"),
        (["demo"], "demo bank"),
        (["serve"], "--port"),
    ],
    ids=["ebank", "audit-verify", "ledger-verify", "db-upgrade", "demo", "serve"],
)
def test_help_works(args: list[str], expected: str) -> None:
    result = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
    assert expected in result.output


def test_top_level_help_lists_the_command_groups() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    for command in ("serve", "demo", "db", "ledger", "audit", "staff"):
        assert command in result.output
