"""``proxies audit``'s start-up reads the cc:Mail exports as the audit's
does (``toolkit/cli/prefetch.py``): a forked worker reads the last exports
while the parent reads the first. Same bytes, log lines and exit code as one
process; a bad export gives the same one-line error wherever it is.
(From branch s11-proxies, taken on its own: it adds no CPU.)"""

from __future__ import annotations

import threading

import pytest

from tests.orgkit import ccmig
from tests.test_startup import BAD_EXPORT, DEMO, EXPORTS, _everything_ahead
from toolkit import parallel
from toolkit.cli import prefetch


def _two(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(parallel.ENV, raising=False)
    assert threading.active_count() == 1, "a thread runs: the worker could not be forked"
    assert parallel.jobs() == 2


def test_proxies_read_the_exports_as_the_audit_with_the_same_first_error(tmp_path, monkeypatch):
    _everything_ahead(monkeypatch)
    taken: list[int] = []
    real = prefetch._tail
    monkeypatch.setattr(prefetch, "_tail", lambda *a: taken.append(real(*a)) or taken[-1])
    bad_po = tmp_path / "PO9.txt"
    bad_po.write_text(BAD_EXPORT, encoding="utf-8")
    exports = [a for p in EXPORTS for a in ("--ccmail-dir", p)]
    base = ["proxies", "audit", "--ldif", str(DEMO / "org.ldif"), "-v", "--format", "json",
            "--retire", "MS", "--retire", "X400"]
    runs = {"good": [*base, *exports], "last": [*base, *exports, "--ccmail-dir", str(bad_po)],
            "first": [*base, "--ccmail-dir", str(bad_po), *exports]}
    seen = {}
    for name, args in runs.items():
        monkeypatch.setenv(parallel.ENV, "1")
        seen[name] = ccmig(*args)
        _two(monkeypatch)
        assert ccmig(*args) == seen[name], name
    # the worker was asked to read the tail of the exports each time two processes could run
    assert len(taken) == 3 and all(n == len(EXPORTS) - 1 or n == len(EXPORTS) for n in taken)
    assert seen["good"][0] == 1 and '"retired-address"' in seen["good"][1]
    for name in ("last", "first"):
        assert seen[name][0] == 2 and f"{bad_po}:4: 'Locn'" in seen[name][2]
        assert seen[name][1] == "" and seen[name][2].count("\n") == 1  # that one line
