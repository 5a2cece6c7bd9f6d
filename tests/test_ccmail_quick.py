"""The quick cc:Mail directory reader (a regex a record for the usual shape,
line by line for the rest) gives the exact reader's entries, spans and errors.

``tests/test_bench.py`` compares the two over common pieces; this file aims at
what the record regex decides itself: key spellings, white space of every
kind (``str.split`` and ``str.strip`` count Unicode spaces), Name squeezing,
Locn codes, Messages digits, key order, blank lines and the end of the text.
"""

from __future__ import annotations

import random

import pytest

from toolkit.ccmail import directory as ccdir
from toolkit.errors import InputError

SPACES = [" ", "  ", "\t", "\x0b", "\x0c", "\x1c", "\x1f", "\x85", "\xa0", "\u2028", "\u3000",
          "\u200b"]  # the last is not white space for str.split
NAMES = ["Smith, John", "Gómez, Ana", "A", "O'Neil, P.", "Þórsson, Þóra", "x:y", "\u4e2d \u6587"]


def _value(rng: random.Random, core: str) -> str:
    """``core`` with white space of some kind around and, sometimes, inside."""
    if rng.random() < 0.3 and " " in core:
        core = core.replace(" ", rng.choice(SPACES), 1)
    return rng.choice(["", "", " ", rng.choice(SPACES)]) + core + rng.choice(
        ["", "", "", " ", rng.choice(SPACES)])


def _key(rng: random.Random, key: str) -> str:
    spelling = rng.choice([key, key, key, key.upper(), key.lower(), key.swapcase(), " " + key,
                           key + " ", key.replace("s", "\u017f")])
    return spelling


def _record(rng: random.Random) -> list[str]:
    lines = [f"{_key(rng, 'Name')}:{_value(rng, rng.choice([*NAMES, '']))}",
             f"{_key(rng, 'Locn')}:{_value(rng, rng.choice('LlRrPpAa' + 'LLLx') * rng.choice([1, 1, 1, 2]))}"]
    if rng.random() < 0.7:
        lines.append(f"{_key(rng, 'Addr')}:{_value(rng, rng.choice(['PO2', 'HUB PO', '', 'PO2 x']))}")
    if rng.random() < 0.4:
        lines.append(f"{_key(rng, 'Comments')}:{_value(rng, rng.choice(['Sales', '', 'a, b']))}")
    if rng.random() < 0.4:
        count = rng.choice(["12", "0", "", "1" * 18, "1" * 19, "-1", "1a", "\uff11", "007"])
        lines.append(f"{_key(rng, 'Messages')}:{_value(rng, count)}")
    if rng.random() < 0.1:
        lines.append(rng.choice(["Phone: 1", "Dept: x", "Messages: 3", "Name: again",
                                 "Addr: twice", "Post office: PO1"]))
    if rng.random() < 0.2:
        rng.shuffle(lines)
    return lines


def _text(rng: random.Random) -> str:
    parts = []
    if rng.random() < 0.5:
        parts.append(["Post office: " + _value(rng, rng.choice(["PO1", "po1", "PO2", ""]))])
    parts += [_record(rng) for _ in range(rng.randint(0, 6))]
    text = "\n" * rng.choice([0, 0, 1, 2])
    for n, record in enumerate(parts):
        if n:
            text += "\n" * rng.choice([1, 1, 1, 2, 3])
        text += "\n".join(record) + "\n"
    return text + "\n" * rng.choice([0, 0, 1, 2]) if rng.random() < 0.8 else text.rstrip("\n")


def _outcome(arg: str) -> tuple:
    try:
        f = ccdir.read_directory_file(arg)
    except InputError as exc:
        return ("error", str(exc))
    return (f.po, f.encoding, f.newline, f.entries, [(e.where, e.path, dict(e.extra)) for e in
                                                     f.entries], list(f.spans))


@pytest.mark.parametrize("seed", range(8))
def test_quick_reader_gives_the_exact_readers_outcome(tmp_path, monkeypatch, seed):
    rng = random.Random(seed)
    path = tmp_path / "po.txt"
    outcomes = set()
    for _ in range(250):
        text = _text(rng)
        if rng.random() < 0.25:
            text = text.replace("\n", "\r\n")
        path.write_bytes(text.encode("utf-8"))
        for arg in (str(path), f"PO1={path}"):
            quick = _outcome(arg)
            with monkeypatch.context() as m:
                m.setattr(ccdir, "_quick", lambda *a: None)
                exact = _outcome(arg)
            assert quick == exact, repr(text)
            outcomes.add(quick[0])
    assert "error" in outcomes and len(outcomes) > 1  # both kinds of outcome were tried


def test_the_usual_records_are_matched_whole_and_named_as_the_file_says(tmp_path):
    path = tmp_path / "po.txt"
    path.write_bytes(b"Post office: PO1\n\n\nName: Smith,  John\nLocn: L\nAddr: PO1 \n"
                     b"Comments:\n\nName:  Doe, Jane\nLOCN:r\naddr: PO2\nMessages: 0012\n\n"
                     b"Name: X\nLocn: R\nMessages:\n\n\n")
    f = ccdir.read_directory_file(str(path))
    assert [(e.name, e.locn, e.addr, e.comments, e.messages, e.where.rsplit(":", 1)[1])
            for e in f.entries] == [("Smith, John", "L", "PO1", "", None, "4"),
                                    ("Doe, Jane", "r", "PO2", "", 12, "9"),
                                    ("X", "R", "", "", None, "14")]
    assert list(f.spans) == [(4, 7), (9, 12), (14, 16)]


def test_a_long_line_of_white_space_is_read_in_linear_time(tmp_path):
    """The record regex uses possessive quantifiers: no backtracking blow-up."""
    import time

    path = tmp_path / "po.txt"
    path.write_text("Post office: PO1\n\nName: a" + " " * 200_000 + "x\nLocn: L\n"
                    + "Addr:" + " " * 200_000 + "\n", encoding="utf-8")
    started = time.process_time()
    f = ccdir.read_directory_file(str(path))
    assert time.process_time() - started < 2
    assert f.entries[0].name == "a x" and f.entries[0].addr == ""
