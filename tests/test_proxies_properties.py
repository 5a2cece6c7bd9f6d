"""Property-based tests (hypothesis) of the proxy rules: invariants that must
hold for any organisation, not just the ones written down."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolkit.model import DirEntry, RawEntry
from toolkit.proxies import ProxyInputs, proxies_audit
from toolkit.proxies.rules import CODES
from toolkit.text import fold

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
NAMES = ["Smith, John", "smith,  john", "Doe, Jane", "Lee", 'Bad "q"', "Tab\tName", ""]
TYPES = ["SMTP", "smtp", "MS", "ms", "CCMAIL", "ccmail", "X400", "x500", "GWISE", "", " SMTP"]
RETIRABLE = ["MS", "CCMAIL", "X400", "GWISE", "NOTES"]


@st.composite
def values(draw) -> str:
    kind = draw(st.sampled_from(TYPES))
    if kind.upper() == "CCMAIL":
        return f"{kind}:{draw(st.sampled_from(NAMES))} at {draw(st.sampled_from(['PO1', 'EXCH', 'P O']))}"
    body = draw(st.sampled_from(["a@x", "A@X ", "b@x", "a@b@c", "", "ORG/A", " org/a", "c=US;"]))
    return f"{kind}:{body}" if kind else body


@st.composite
def objects(draw) -> list[RawEntry]:
    out = []
    for n in range(draw(st.integers(0, 8))):
        shape = draw(st.sampled_from(["mailbox", "user", "contact", "group", "computer"]))
        attrs: dict[str, list] = {"objectclass": {
            "mailbox": ["user"], "user": ["user"], "contact": ["contact"], "group": ["group"],
            "computer": ["user", "computer"]}[shape]}
        if shape == "mailbox":
            attrs["homemdb"] = ["CN=DB"]
        proxies = draw(st.lists(values(), max_size=6))
        if proxies:
            attrs["proxyaddresses"] = proxies
        if shape == "contact" and draw(st.booleans()):
            attrs["targetaddress"] = [draw(values())]
        out.append(RawEntry(f"CN=O{n},DC=x", attrs))
    return out


@st.composite
def directories(draw) -> list[DirEntry]:
    return [DirEntry(draw(st.sampled_from(NAMES[:4])), draw(st.sampled_from("LlRrAaP")), "PO1")
            for _ in range(draw(st.integers(0, 4)))]


def audit(entries, retire, dir_entries, max_values=None):
    class Layer:
        def post_offices(self):
            return ["PO1"]

        def entries(self):
            return iter(dir_entries)

    inputs = ProxyInputs(lambda: list(entries), "ad", Layer(), tuple(retire), True, max_values)
    return proxies_audit(inputs)


def kept_oracle(text: str, user_names: set[str]) -> bool:
    """Independent reading of retired-in-use for one value."""
    if text[:7].upper() != "CCMAIL:":
        return False
    address = text[7:]
    cut = address.lower().rfind(" at ")
    if cut < 0:
        return False
    name, po = address[:cut], address[cut + 4:]
    if any(c in name + po for c in "\t\n\r") or any(c in name for c in '"[]'):
        return False
    name, po = " ".join(name.split()), " ".join(po.split())
    if not name or not po or not all(c.isascii() and (c.isalnum() or c in "-_") for c in po):
        return False
    return fold(name) in user_names


@SETTINGS
@given(objects(), st.sets(st.sampled_from(RETIRABLE)), directories(), st.randoms())
def test_order_of_objects_and_entries_never_changes_the_rows(entries, retire, dirs, rnd):
    connector_free = [e for e in dirs if e.locn != "P"]
    first = [r.as_dict() for r in audit(entries, retire, connector_free, 3)]
    shuffled, dirs2 = list(entries), list(connector_free)
    rnd.shuffle(shuffled)
    rnd.shuffle(dirs2)
    assert [r.as_dict() for r in audit(shuffled, sorted(retire, reverse=True), dirs2, 3)] == first


@SETTINGS
@given(objects(), st.sets(st.sampled_from(RETIRABLE), min_size=1), directories())
def test_remove_invariants(entries, retire, dirs):
    dirs = [e for e in dirs if e.locn != "P"]
    users = {fold(e.name) for e in dirs if e.locn in "LlRr"}
    by_key = {f"dn:{fold(e.dn)}": e for e in entries}
    rows = {r.key: r for r in audit(entries, retire, dirs)}
    assert list(rows) == sorted(rows)
    for key, entry in by_key.items():
        row = rows.get(key)
        if "computer" in entry.get("objectclass"):
            assert row is None
            continue
        values = [v for v in entry.get("proxyaddresses")]
        codes = [f.code for f in row.findings] if row else []
        assert codes == [c for c in CODES if c in codes]  # the table's order, each once
        assert row is None or row.status == codes[0]
        remove = list(row.remove) if row else []
        # remove is a subsequence of the values, as read
        it = iter(values)
        assert all(any(v == r for v in it) for r in remove)
        # never a kept value
        kept = [v for v in values if "CCMAIL" in retire and kept_oracle(v, users)]
        assert not set(kept) & set(remove)
        # a value of a retired type: exactly one of retired-target / retired-address, unless kept
        retired_values = [v for v in values
                          if ":" in v and v.split(":", 1)[0].upper() in retire and v.split(":")[0]]
        targets = [t for t in entry.get("targetaddress")
                   if t.split(":", 1)[0].upper() in retire and ":" in t]
        dealt = ("retired-target" in codes) + ("retired-address" in codes)
        if "contact" in entry.get("objectclass") and targets:
            assert dealt == 1 and "retired-target" in codes and remove == []
        elif [v for v in retired_values if v not in kept]:
            assert dealt == 1 and "retired-address" in codes and remove
        else:
            assert dealt == 0 and remove == []
        assert bool(remove) == ("retired-address" in codes)


def test_shuffled_input_example_is_deterministic_across_runs():
    rnd = random.Random(5)
    entries = [RawEntry(f"CN=O{n},DC=x", {"objectclass": ["user"], "homemdb": ["x"],
                                          "proxyaddresses": ["SMTP:a@x", f"MS:{n % 3}"]})
               for n in range(40)]
    first = [r.as_dict() for r in audit(entries, ["MS"], [])]
    for _ in range(5):
        rnd.shuffle(entries)
        assert [r.as_dict() for r in audit(entries, ["MS"], [])] == first
    assert len(first) == 40
