"""Fuzzing the readers, bounded for CI (hypothesis at scale; atheris optionally).

Mutations of valid files (``mocks/demo``, ``tests/data``, the hostile corpus)
are fed to every reader of untrusted files. The contract: a reader returns,
or raises :class:`toolkit.errors.InputError` (exit 2). Any other exception
(the CLI would print "internal error" and exit 3) is a failure. Files that
read successfully must also survive remediation's byte-exact editing: a
``FileText`` round trip and a remove-then-revert give back every byte.

Scale: ``CCMIG_FUZZ_EXAMPLES`` (default 1500 per target: about 30 s for the
file, atheris included) sets the number of examples per target, e.g.
``CCMIG_FUZZ_EXAMPLES=20000 pytest tests/test_fuzz.py``. With atheris
installed (``pip install atheris``) the same targets run under libFuzzer:
``python tests/test_fuzz.py ldif -runs=100000`` (or ``ccmail``, ``stats``).
"""

from __future__ import annotations

import codecs
import os
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = int(os.environ.get("CCMIG_FUZZ_EXAMPLES", "1500"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))


def _head(path: Path, size: int) -> bytes:
    """The start of a file, cut at a record break (a blank line) near ``size``."""
    data = path.read_bytes()
    cut = data.find(b"\n\n", size)
    return data if cut < 0 else data[: cut + 2]


def _utf16(data: bytes) -> bytes:
    return codecs.BOM_UTF16_LE + data.decode("utf-8").replace("\n", "\r\n").encode("utf-16-le")


LDIF_SEEDS = [
    _head(ROOT / "mocks/demo/org.ldif", 3000),
    _head(ROOT / "mocks/demo55/org.ldif", 2000),
    _head(ROOT / "tests/data/ldap/ad.ldif", 2500),
    (ROOT / "tests/hostile/good/org.ldif").read_bytes(),
]
LDIF_SEEDS.append(_utf16(LDIF_SEEDS[3]))  # ldifde -u: UTF-16 with a BOM
CCMAIL_SEEDS = [_head(p, 1500) for p in sorted((ROOT / "mocks/demo/ccmail").glob("*.txt"))]
CCMAIL_SEEDS += [(ROOT / "tests/hostile/good/PO1.txt").read_bytes(),
                 (ROOT / "tests/hostile/ccmail/cp850_fallback.txt").read_bytes(),
                 codecs.BOM_UTF8 + (ROOT / "tests/hostile/good/PO1.txt").read_bytes()]
STATS_SEEDS = [_head(ROOT / "mocks/demo/stats.csv", 800),
               (ROOT / "tests/hostile/good/stats.csv").read_bytes(),
               b'identity,item_count\n"CN=Smith\\, John,OU=Staff,DC=corp,DC=example",12\n']

# Fragments a mutation splices in: structure, encodings, separators.
TOKENS = [
    b"\x00", b"\xff", b"\xfe\xff", b"\xff\xfe", b"\xef\xbb\xbf", b"\xc0\xaf", b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80", b"\n", b"\r", b"\r\n", b"\n\n", b"\n ", b" ", b"\t", b":", b"::", b":<",
    b"=", b",", b'"', b"\\", b"#", b"dn: ", b"dn:: ", b"changetype: add\n", b"changetype: modify\n",
    b"version: 1\n", b"objectClass: user\n", b"proxyAddresses:: Q0NNQUlMOkEgYXQgRVhDSA==\n",
    b"Post office: PO9\n", b"Name: ", b"Locn: ", b"Locn: Q\n", b"Addr: ", b"Messages: ",
    b"Messages: 12345678901234567890\n", b"identity,item_count\n", b"\xe2\x80\xa8", b"\xc2\x85",
    "\u2019\u00e9\u00df".encode(), "Zoë".encode("cp850"),
]


@st.composite
def mutated(draw, seeds: list[bytes]) -> bytes:
    """A seed file with 1-8 mutations: byte flips, inserts, deletes, splices,
    truncation, and text in another encoding."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.integers(0, 6))
        pos = draw(st.integers(0, len(data)))
        if op == 0:
            data[pos:pos + 1] = draw(st.binary(min_size=1, max_size=1))
        elif op == 1:
            data[pos:pos] = draw(st.binary(min_size=1, max_size=24))
        elif op == 2:
            del data[pos:pos + draw(st.integers(1, 80))]
        elif op == 3:
            data[pos:pos] = draw(st.sampled_from(TOKENS))
        elif op == 4:
            del data[pos:]
        elif op == 5:
            text = draw(st.text(min_size=1, max_size=12))
            codec = draw(st.sampled_from(["utf-8", "utf-16-le", "utf-16-be", "cp850", "latin-1"]))
            data[pos:pos] = text.encode(codec, errors="replace")
        else:  # duplicate a slice: repeated keys, records, BOMs
            end = min(len(data), pos + draw(st.integers(1, 120)))
            data[pos:pos] = data[pos:end]
    return bytes(data)


def anything(seeds: list[bytes]):
    """Mutated seeds, mostly; sometimes raw bytes or raw text in some encoding."""
    text = st.tuples(st.text(max_size=300), st.sampled_from(["utf-8", "utf-16", "utf-8-sig"])).map(
        lambda t: t[0].encode(t[1], errors="surrogatepass"))
    return st.one_of(mutated(seeds), mutated(seeds), mutated(seeds), st.binary(max_size=600), text)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


# --------------------------------------------------------------------------- targets
# Each returns normally or raises InputError; anything else propagates as a failure.


def ldif_target(path: Path) -> None:
    from toolkit.exchange.dialects import recipients
    from toolkit.exchange.ldif import read_ldif
    from toolkit.model import Dialect

    entries = list(read_ldif(path))
    for dialect in Dialect:  # what the audit does next with the entries
        list(recipients(entries, dialect))


def ccmail_target(path: Path, encoding: str | None, po: str | None) -> None:
    from toolkit.ccmail.directory import read_directory_file
    from toolkit.remediation import ccmail_files as cf

    f = read_directory_file(path, encoding, po)
    data = path.read_bytes()
    assert cf.FileText.read(path, encoding).encode() == data
    if f.entries:  # remediation can take any record out and put it back, byte for byte
        removal = cf.plan_removal(path, f.spans[-1], encoding)
        cf.apply_removal(removal)
        after = read_directory_file(path, encoding, f.po)
        assert len(after.entries) == len(f.entries) - 1
        cf.revert_removal(removal)
        assert path.read_bytes() == data


def stats_target(path: Path) -> None:
    from toolkit.stats import read_stats

    read_stats(path)


def run_target(target, path: Path, data: bytes, *args) -> None:
    from toolkit.errors import InputError

    path.write_bytes(data)
    try:
        target(path, *args)
    except InputError as exc:
        message = str(exc)
        assert "\n" not in message.strip(), message  # one line, as the CLI prints it


@FUZZ
@given(data=anything(LDIF_SEEDS))
def test_fuzz_read_ldif(scratch, data):
    run_target(ldif_target, scratch / "org.ldif", data)


@FUZZ
@given(data=anything(CCMAIL_SEEDS), encoding=st.sampled_from([None, None, "cp850", "utf-8", "latin-1"]),
       po=st.sampled_from([None, "PO1", "HUBPO"]))
def test_fuzz_read_directory_file(scratch, data, encoding, po):
    run_target(ccmail_target, scratch / "po.txt", data, encoding, po)


@FUZZ
@given(data=anything(STATS_SEEDS))
def test_fuzz_read_stats(scratch, data):
    run_target(stats_target, scratch / "stats.csv", data)


def test_seeds_are_valid(scratch):
    """The mutations start from files every reader accepts."""
    for i, seed in enumerate(LDIF_SEEDS):
        path = scratch / f"seed{i}.ldif"
        path.write_bytes(seed)
        ldif_target(path)
    for i, seed in enumerate(CCMAIL_SEEDS):
        path = scratch / f"seed{i}.txt"
        path.write_bytes(seed)
        ccmail_target(path, None, "PO1" if b"Post office" not in seed else None)
    for i, seed in enumerate(STATS_SEEDS):
        path = scratch / f"seed{i}.csv"
        path.write_bytes(seed)
        stats_target(path)


# --------------------------------------------------------------------------- atheris (optional)


def _atheris_main(argv: list[str]) -> None:
    import atheris

    sys.path.insert(0, str(ROOT))
    with atheris.instrument_imports(include=["toolkit"]):  # coverage for libFuzzer
        import toolkit.ccmail.directory
        import toolkit.exchange.dialects
        import toolkit.exchange.ldif
        import toolkit.remediation.ccmail_files
        import toolkit.stats  # noqa: F401
        from toolkit.errors import InputError
    target_name, args = argv[1], argv[1:]
    work = Path(tempfile.mkdtemp(prefix="ccmig-atheris-"))
    path = work / "input"
    seeds = {"ldif": LDIF_SEEDS, "ccmail": CCMAIL_SEEDS, "stats": STATS_SEEDS}[target_name]
    corpus = work / "corpus"
    corpus.mkdir()
    for i, seed in enumerate(seeds):
        (corpus / f"seed{i}").write_bytes(seed)

    def one(data: bytes) -> None:
        path.write_bytes(data)
        try:
            if target_name == "ldif":
                ldif_target(path)
            elif target_name == "ccmail":
                ccmail_target(path, None, "PO1" if data[:1] != b"P" else None)
            else:
                stats_target(path)
        except InputError:
            pass

    atheris.Setup([argv[0], *args[1:], str(corpus)], one)
    atheris.Fuzz()


if __name__ == "__main__":
    _atheris_main(sys.argv)
