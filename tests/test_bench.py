"""Issue 6 (performance): scripts/bench runs end to end and reports every
measurement, and the fast readers give exactly what the exact ones give.

Quick mode on a small organisation: this checks that the benchmark works and
its numbers are sane, not the timing targets (those are for N=100,000 on a
quiet machine; see docs/performance.md).
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from toolkit.ccmail import directory as ccdir
from toolkit.errors import InputError
from toolkit.exchange import ldif as ldif_mod
from toolkit.exchange.ldapfast import decode_search_entry
from toolkit.exchange.ldapread import entry as _entry

ROOT = Path(__file__).resolve().parent.parent


def test_quick_bench_reports_every_measurement(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [str(ROOT / "scripts" / "bench"), "--quick", "-n", "2000", "--repeat", "1",
         "--json", str(out)],
        capture_output=True, text=True, timeout=900,
        env={"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "HOME": str(tmp_path),
             "LANG": "C.UTF-8", "PYTHON": sys.executable},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["params"] == {"people": 2000, "repeat": 1, "seed": 3, "quick": True}
    m = report["measurements"]
    assert set(m) == {"ldapsearch", "ldapsearch_piped", "ldap3_bare", "audit_ldap",
                      "audit_ldap_1job", "audit_ldif", "directory_parse", "reader_1",
                      "reader_2x", "proxies_audit_ldap"}
    for name, values in m.items():
        assert len(values["runs_s"]) == 1, name
        assert 0 < values["median_s"] < 300, name
        # the machine's speed, probed just before each timed run
        assert len(values["probe_s_runs"]) == 1 and 0 < values["probe_s_runs"][0] < 60, name
    speed = report["machine"]["speed_probe"]
    probes = [p for values in m.values() for p in values["probe_s_runs"]]
    assert speed["runs"] == len(probes) == len(m)
    assert speed["min_s"] == round(min(probes), 4) and speed["max_s"] == round(max(probes), 4)
    assert speed["max_over_min"] >= 1
    assert "machine speed: a fixed loop took" in proc.stdout
    entries = report["org"]["ldap_entries"]
    assert entries > 1000  # most people carry cc:Mail values or are mailboxes
    # (a) to a file and (a) through a pipe count the same dump
    assert m["ldapsearch"]["entries"] == m["ldapsearch_piped"]["entries"] \
        == m["ldap3_bare"]["entries"] == entries
    # the two cn halves are disjoint and complete
    assert m["reader_1"]["entries"] == m["reader_2x"]["entries"] == entries
    assert report["org"]["rows"] > 1000
    assert m["directory_parse"]["entries"] > 2000
    assert 0 < m["directory_parse"]["median_s_per_100k"] < 60
    for name in ("ldap3_bare", "audit_ldap", "audit_ldap_1job", "audit_ldif"):
        assert 10 < m[name]["peak_rss_mb"] < 2000, name  # a Python process, not a stray number
        # what the process tree holds: at least one interpreter, at most every RSS summed
        assert 10 < m[name]["tree_pss_mb"] <= m[name]["tree_rss_mb"] + 1, name
        # ... sampled in a run of its own, kept out of the timed runs' median
        assert m[name]["memory_run_s"] > 0 and len(m[name]["runs_s"]) == 1, name
    # PSS is sampled in the memory runs only (it costs the timed runs CPU)
    assert "tree_pss_mb" not in m["ldapsearch"] and "memory_run_s" not in m["ldapsearch"]
    assert m["audit_ldap"]["exit_code"] == m["audit_ldif"]["exit_code"] == 0
    assert m["audit_ldap_1job"]["exit_code"] == 0
    # the proxies audit ran on the same organisation and found the retired values
    assert m["proxies_audit_ldap"]["exit_code"] == 0
    assert 1000 < m["proxies_audit_ldap"]["rows"] <= entries
    assert 10 < m["proxies_audit_ldap"]["peak_rss_mb"] < 2000
    ratios = report["ratios"]
    assert set(ratios) == {"audit_ldap / ldapsearch", "audit_ldap / ldapsearch_piped",
                           "audit_ldap / ldap3_bare", "audit_ldap, 1 job / ldapsearch",
                           "audit_ldif / audit_ldap", "reader_2x / reader_1",
                           "reader_1 / ldap3_bare", "proxies_audit_ldap / audit_ldap"}
    assert all(math.isfinite(v) and v > 0 for v in ratios.values())
    ps = report["powershell"]
    for label in ("batch_500", "batch_2000", "one_by_one"):
        run = ps[label]
        assert run["identities"] > 0 and run["requests"] > 0 and run["seconds"] > 0, label
        assert run["addresses_found"] == run["identities"], label  # every DN resolves
        assert run["item_counts"] == run["identities"], label
    # batching is what makes PowerShell usable: far fewer requests than one per identity
    assert ps["batch_500"]["requests_per_1000"] * 10 < ps["one_by_one"]["requests_per_1000"]
    targets = report["targets"]
    assert set(targets) == {"audit_ldap / ldap3_bare", "audit_ldap / ldapsearch",
                            "audit_ldap / ldapsearch (moonshot)", "audit_ldif / audit_ldap",
                            "proxies_audit_ldap / audit_ldap", "peak_rss_mb", "linearity_2n_over_n",
                            "directory_parse_s_per_100k", "powershell_requests_per_1000",
                            "powershell_requests_per_1000_batch_2000"}
    assert targets["linearity_2n_over_n"]["met"] is None  # not asked for (--linearity)
    # slapd's CPU during every measurement that reads from it, and only those
    served = {"ldapsearch", "ldapsearch_piped", "ldap3_bare", "audit_ldap", "audit_ldap_1job",
              "proxies_audit_ldap", "reader_1", "reader_2x"}
    assert {name for name, v in m.items() if "server_cpu_s" in v} == served
    for name in served:
        assert 0 <= m[name]["server_cpu_s"] < 60, name
        assert m[name]["server_cpu_s_runs"] == [round(m[name]["server_cpu_s"], 2)], name
    # slapd's time shows: it served three whole reads of the audit's search
    assert sum(m[name]["server_cpu_s"] for name in ("ldapsearch", "ldap3_bare", "audit_ldap")) > 0
    assert "(c) ccmig audit over LDAP" in proc.stdout  # the table
    assert "slapd CPU s" in proc.stdout
    assert "(g) ccmig proxies audit over LDAP" in proc.stdout
    assert "target proxies_audit_ldap / audit_ldap" in proc.stdout


def test_linearity_measures_2n_in_the_same_rounds(tmp_path):
    """--linearity: each 2N run right after its N run, in every round (the
    machine's drift stays out of the ratio), its PSS in a memory run of its
    own, and the ratio round by round."""
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [str(ROOT / "scripts" / "bench"), "--quick", "-n", "600", "--repeat", "2",
         "--linearity", "--no-powershell", "--json", str(out)],
        capture_output=True, text=True, timeout=900,
        env={"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "HOME": str(tmp_path),
             "LANG": "C.UTF-8", "PYTHON": sys.executable},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text(encoding="utf-8"))
    runs = [line.split()[2] for line in proc.stderr.splitlines() if line.startswith("  round ")]
    for name in ("audit_ldap", "audit_ldif"):
        at = [n for n, run in enumerate(runs) if run == name]
        assert len(at) == 2 and all(runs[n + 1] == name + "_2n" for n in at), runs
    assert "audit_ldap_2n" not in report["measurements"]
    lin = report["linearity"]
    assert lin["people"] == 1200
    for name in ("audit_ldap", "audit_ldif"):
        twice, once = lin["measurements"][name], report["measurements"][name]
        assert len(twice["runs_s"]) == 2 and twice["tree_pss_mb"] > 10
        assert lin[f"{name}_pairs"] == [round(b / a, 3) for a, b in
                                        zip(once["runs_s"], twice["runs_s"], strict=True)]
        assert lin[f"{name}_ratio"] == round(twice["median_s"] / once["median_s"], 3)
    assert report["targets"]["linearity_2n_over_n"]["met"] is not None
    assert "round by round, audit_ldif" in proc.stdout
    # slapd's CPU beside the audit, 2N over N: reported when both were measured
    served = (lin["measurements"]["audit_ldap"].get("server_cpu_s"),
              report["measurements"]["audit_ldap"].get("server_cpu_s"))
    if served[1]:
        assert lin["audit_ldap_server_cpu_ratio"] == round(served[0] / served[1], 3)
        assert "2N/N slapd CPU, audit over LDAP" in proc.stdout
    else:  # too little to be seen in clock ticks at 600 people
        assert "audit_ldap_server_cpu_ratio" not in lin


def _bench_module():
    spec = importlib.util.spec_from_file_location("ccmig_bench", ROOT / "scripts" / "bench.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["ccmig_bench"] = module  # (its dataclasses look their module up there)
    spec.loader.exec_module(module)
    return module


def test_rounds_probe_the_machine_before_each_run_and_correct_nothing():
    """Each timed run carries the speed probe taken just before it; the times
    themselves are reported as measured (nothing is divided by the probe)."""
    bench = _bench_module()
    calls = []
    probes = iter([0.1, 0.2, 0.3, 0.4])

    def task(name, seconds):
        def go():
            calls.append(name)
            return {"seconds": seconds}
        return go

    results = bench.rounds({"x": task("x", 5.0), "y": task("y", 7.0)}, 2, log=lambda _: None,
                           probe=lambda: (calls.append("probe"), next(probes))[1])
    assert calls == ["probe", "x", "probe", "y", "probe", "y", "probe", "x"]
    assert [r["probe_s"] for r in results["x"]] == [0.1, 0.4]
    assert [r["probe_s"] for r in results["y"]] == [0.2, 0.3]
    summary = bench.summarise(results["x"])
    assert summary["runs_s"] == [5.0, 5.0] and summary["probe_s_runs"] == [0.1, 0.4]
    speed = bench.machine_speed(results)
    assert (speed["runs"], speed["min_s"], speed["max_s"], speed["max_over_min"]) == (4, 0.1, 0.4,
                                                                                      4.0)
    assert 0 < bench.speed_probe(1000) < 5


def test_server_cpu_is_the_process_cpu_time_spent_during_a_task():
    """``process_cpu_s`` reads a process's user and system time from /proc
    (the right fields: it agrees with the process's own clock), and
    ``with_server_cpu`` adds what the server spent during a task to its
    result, passing the task's arguments on."""
    _bench_module()  # (puts scripts/ on sys.path)
    bench = importlib.import_module("bench_measurements")
    process_cpu_s = importlib.import_module("bench_process").process_cpu_s
    pid = os.getpid()

    def burn(seconds: float) -> None:
        end = time.process_time() + seconds
        while time.process_time() < end:
            pass

    before, own = process_cpu_s(pid), time.process_time()
    burn(0.3)
    spent, own_spent = process_cpu_s(pid) - before, time.process_time() - own
    assert abs(spent - own_spent) < 0.05 and spent > 0.2

    def task(seconds, pss=False):
        burn(seconds)
        return {"seconds": seconds, "pss": pss}

    result = bench.with_server_cpu(task, pid)(0.2, pss=True)
    assert result["pss"] is True and 0.15 < result["server_cpu_s"] < 1
    assert process_cpu_s(2 ** 22 + 1) is None  # beyond the kernel's largest pid
    nothing = bench.with_server_cpu(lambda: {"seconds": 1.0}, 2 ** 22 + 1)()
    assert nothing == {"seconds": 1.0}
    assert bench.summarise([{"seconds": 1.0, "server_cpu_s": 0.5},
                            {"seconds": 2.0, "server_cpu_s": 0.7},
                            {"seconds": 3.0, "server_cpu_s": 0.6}])["server_cpu_s"] == 0.6
    assert "server_cpu_s" not in bench.summarise([{"seconds": 1.0, "server_cpu_s": 0.5},
                                                  {"seconds": 2.0}])


# --------------------------------------------------------------------------- fast paths
# The speed-ups of issue 6 read the common case a quicker way and hand anything
# unusual to the exact (original) code. These check, on random and hostile
# input, that the quick way gives exactly what the exact way gives.

LDIF_PIECES = [
    b"dn: CN=a,DC=x\n", b"dn:: Q049Yg==\n", b"dn:: //79\n", b"DN: cn=Smith\\2C J\n",
    b"version: 1\n", b"objectClass: user\n", b"objectClass:: dXNlcg==\n",
    b"proxyAddresses: CCMAIL:A at B\n", b"proxyAddresses:: ***\n", b"cn:< file:///x\n",
    b"objectGUID:: AAEC\n", b"objectGUID:: AAE\n", b"cn: x\n", b"cn:\n", b"cn:  two \n",
    b"changetype: add\n", b"changetype: modify\n", b"changetype:: YWRk\n", b"\n", b"\n",
    b"\r\n", b"\t\n", b" \n", b" cont\n", b"# comment\n", b"bad line\n", b"bad name: x\n",
    b"1.2.3: oid\n", b"cn;lang-en: opt\n", b"x\x00y\n", b"\xff\xfe\n", b"cn: caf\xc3\xa9\n",
    b"mail: a\rb\n", b"mail: a\r\r\n", b"homeMDB: CN=DB\n", b" ,CN=more\n", b"cn:: /w==\n",
]


def _ldif_outcome(path, **kw):
    out = []
    try:
        for e in ldif_mod.read_ldif(path, **kw):
            out.append((e.dn, e.attrs, e.where))
    except InputError as exc:
        out.append(("error", str(exc)))
    return out


def test_ldif_quick_reading_equals_line_by_line(tmp_path, monkeypatch):
    rng = random.Random(6)
    path = tmp_path / "x.ldif"
    for _ in range(400):
        data = b"".join(rng.choice(LDIF_PIECES) for _ in range(rng.randint(0, 30)))
        if rng.random() < 0.3:
            data = data.replace(b"\n", b"\r\n")
        path.write_bytes(data)
        monkeypatch.setattr(ldif_mod, "_BLOCK", rng.choice([1, 7, 64, 1 << 20]))
        keep = rng.choice([None, {"cn", "proxyaddresses", "objectclass"}])
        quick = _ldif_outcome(path, attributes=keep)
        with monkeypatch.context() as m:
            m.setattr(ldif_mod._Reader, "record", lambda self, rec, first: False)
            exact = _ldif_outcome(path, attributes=keep)
        assert quick == exact, data


def _directory_outcome(arg):
    try:
        f = ccdir.read_directory_file(arg)
    except InputError as exc:
        return ("error", str(exc))
    return (f.po, f.encoding, [(e.name, e.locn, e.file_po, e.addr, e.comments, e.messages,
                                dict(e.extra), e.where, e.path) for e in f.entries],
            list(f.spans))


def test_directory_quick_parse_equals_record_by_record(tmp_path, monkeypatch):
    pieces = ["Post office: PO1\n", "Name: Smith, John\n", "Name:  Doe,   Jane \n", "Name:\n",
              "Locn: L\n", "Locn: r\n", "Locn: X\n", "Addr: PO2\n", "Addr:\n",
              "Comments: Sales\n", "Messages: 12\n", "Messages: -1\n", "Phone: 1\n",
              ": novalue\n", "no colon\n", "\n", "\n", "\n", "  \n", "Name: a\rb\n"]
    rng = random.Random(6)
    path = tmp_path / "po.txt"
    for _ in range(400):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 25)))
        if rng.random() < 0.3:
            text = text.replace("\n", "\r\n")
        path.write_bytes(text.encode(rng.choice(["utf-8", "cp850"])))
        for arg in (str(path), f"PO1={path}"):
            quick = _directory_outcome(arg)
            with monkeypatch.context() as m:
                m.setattr(ccdir, "_quick", lambda *a: None)
                exact = _directory_outcome(arg)
            assert quick == exact, text


def _ber(tag: int, content: bytes, long_form: bool = False) -> bytes:
    n = len(content)
    if n < 128 and not long_form:
        return bytes([tag, n]) + content
    size = n.to_bytes(max(1, (n.bit_length() + 7) // 8), "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


def _search_entry(dn: bytes, attributes, long_form=False, controls=b"") -> bytes:
    listed = b"".join(
        _ber(0x30, _ber(0x04, name) + _ber(0x31, b"".join(_ber(0x04, v, long_form)
                                                          for v in values), long_form))
        for name, values in attributes)
    op = _ber(0x64, _ber(0x04, dn) + _ber(0x30, listed, long_form), long_form)
    return _ber(0x30, _ber(0x02, b"\x07") + op + controls, long_form)


@pytest.mark.parametrize(("dn", "attributes", "long_form"), [
    (b"cn=Smith\\2C John,dc=x", [(b"objectClass", [b"top", b"user"]),
                                  (b"proxyAddresses", [b"CCMAIL:Smith, John at EXCH",
                                                       b"x" * 300])], False),
    (b"CN=a,DC=x", [(b"objectGUID", [bytes(range(16))]), (b"cn", [b"caf\xc3\xa9"]),
                    (b"description", [b"caf\xe9"])], True),
    (b"CN=a,DC=x", [(b"cn", []), (b"mail", [b"a@b"])], False),
])
def test_ldap_entry_decoder_equals_ldap3(dn, attributes, long_form):
    from ldap3.operation.search import search_result_entry_response_to_dict_fast
    from ldap3.utils.asn1 import decode_message_fast

    message = _search_entry(dn, attributes, long_form)
    generic = search_result_entry_response_to_dict_fast(
        decode_message_fast(message)["payload"], None, None, False)
    decoded = decode_search_entry(message)
    assert decoded is not None and decoded[0] == 7
    assert decoded[1]["ccmig_entry"] == _entry(generic["dn"], generic["raw_attributes"])


@pytest.mark.parametrize("unusual", [
    _search_entry(b"CN=a", [(b"proxyAddresses;range=0-1", [b"x"])]),  # options: ldap3 decides
    _search_entry(b"CN=a", [(b"cn", [b"x"]), (b"CN", [b"y"])]),  # a name twice
    _search_entry(b"CN=a", [(b"cn", [b"x"])], controls=_ber(0xA0, b"")),  # entry controls
    _search_entry(b"\xe9", [(b"cn", [b"x"])]),  # a DN that is not UTF-8
    _search_entry(b"CN=a", [(b"cn", [b"x"])])[:-1],  # truncated
    bytes.fromhex("300c02010265070a010004000400"),  # a SearchResultDone
])
def test_ldap_entry_decoder_leaves_the_unusual_to_ldap3(unusual):
    assert decode_search_entry(unusual) is None
