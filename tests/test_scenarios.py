"""The bundled demo organisations: every generated scenario gets its intended code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.orgkit import ccmig

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(("name", "dialect"), [("demo", "ad"), ("demo55", "exchange55")])
def test_demo_scenarios_get_their_codes(name, dialect):
    org = ROOT / "mocks" / name
    dirs = [a for p in sorted((org / "ccmail").glob("*.txt")) for a in ("--ccmail-dir", str(p))]
    code, out, err = ccmig("audit", "--ldif", str(org / "org.ldif"), *dirs, "--exchange-po",
                           "EXCH", "--mailbox-stats", str(org / "stats.csv"), "--dialect",
                           dialect, "--format", "json")
    assert code == 1, err
    rows = {r["key"]: r for r in json.loads(out)}
    expected = json.loads((org / "expected-codes.json").read_text(encoding="utf-8"))["objects"]
    wrong = []
    for obj in expected:
        row = rows.get(obj["key"])
        if obj["code"] is None:
            if row is not None:
                wrong.append((obj["scenario"], obj["key"], "unexpected row", row["status"]))
        elif row is None:
            wrong.append((obj["scenario"], obj["key"], "missing row"))
        elif obj["code"] == "complete":
            if row["findings"]:
                wrong.append((obj["scenario"], obj["key"], row["status"]))
        elif obj["code"] not in [f["code"] for f in row["findings"]]:
            wrong.append((obj["scenario"], obj["key"], obj["code"], row["status"]))
    assert not wrong, wrong
    unlisted = set(rows) - {o["key"] for o in expected}
    assert not unlisted, sorted(unlisted)[:5]
