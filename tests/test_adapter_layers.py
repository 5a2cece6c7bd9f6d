"""The adapters' shape: layers importing one way, small modules, choices declared once.

Why a test: the PowerShell bridge was one 1,000-line class and the LDAP
reader mixed connection, paging and a patched copy of ldap3; these pin the
split (docs/architecture.md) so it cannot silently grow back together.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

EXCHANGE = Path(__file__).resolve().parent.parent / "toolkit" / "exchange"

# Top to bottom: a module may import only modules below it in its list.
LAYERS = {
    "powershell": ["writer", "powershell", "psreads", "pswrites", "psmatch", "pspipeline",
                   "pssession", "psfailures", "psinternals", "psobjects", "pssettings"],
    "ldap": ["ldap", "ldapread", "ldaprequests", "ldapfast", "ldaperrors", "ldapoptions"],
}


def _imports(module: str) -> set[str]:
    """toolkit.exchange modules ``module`` imports, at any depth of its code."""
    found: set[str] = set()
    for node in ast.walk(ast.parse((EXCHANGE / f"{module}.py").read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "toolkit.exchange":
                found |= {a.name for a in node.names}
            elif node.module.startswith("toolkit.exchange."):
                found.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[2] for a in node.names
                      if a.name.startswith("toolkit.exchange.")}
    return found - {module}


@pytest.mark.parametrize("family", sorted(LAYERS))
def test_imports_run_one_way(family):
    order = LAYERS[family]
    for i, module in enumerate(order):
        upward = _imports(module) & set(order[: i + 1])
        assert not upward, f"{module} imports {sorted(upward)}, which sit above it"


def test_adapter_modules_stay_small():
    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines()) for p in EXCHANGE.glob("*.py")}
    assert {name: n for name, n in sizes.items() if n > 600} == {}
def test_the_cli_offers_the_adapters_choices_without_loading_ldap3():
    """Auth lists and MAX_RETRIES are declared once, in the adapters; the CLI
    imports them from the light modules, so starting it does not load ldap3."""

    from toolkit.cli import inputs
    from toolkit.exchange import ldap, ldapoptions, pssettings

    assert inputs.MAX_RETRIES is ldapoptions.MAX_RETRIES is ldap.MAX_RETRIES
    assert inputs.LDAP_AUTH_METHODS is ldapoptions.AUTH_METHODS is ldap.AUTH_METHODS
    assert inputs.EXCHANGE_AUTH_METHODS is pssettings.AUTH_METHODS
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, toolkit.cli.main; print('ldap3' in sys.modules, "
         "'pypsrp' in sys.modules)"], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == ["False", "False"]
