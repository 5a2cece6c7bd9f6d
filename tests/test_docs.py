"""Documentation that is generated or promised stays true."""

from __future__ import annotations

import os
from pathlib import Path

from toolkit.cli.main import cli
from toolkit.cli.reference import render
from toolkit.rules import CODES

ROOT = Path(__file__).resolve().parent.parent


def test_cli_reference_is_current(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    assert (ROOT / "docs" / "cli.md").read_text(encoding="utf-8") == render(cli), (
        "docs/cli.md is stale: run scripts/gen-cli-docs")


def test_every_finding_code_is_documented():
    text = (ROOT / "docs" / "findings.md").read_text(encoding="utf-8")
    for code in CODES:
        assert f"### `{code}`" in text, code


def test_quick_start_scripts_are_executable():
    for name in ("demo", "test"):
        assert os.access(ROOT / "scripts" / name, os.X_OK)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme.index("./scripts/demo") < readme.index("./scripts/test")
