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
from toolkit.ccmail import quickread
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


def _quick_is_exact(path, text: str, monkeypatch) -> object:
    """Both readers' outcome of ``text`` written to ``path``, asserted equal;
    its PO (or "error")."""
    path.write_bytes(text.encode("utf-8"))
    quick = _outcome(str(path))
    with monkeypatch.context() as m:
        m.setattr(ccdir, "_quick", lambda *a: None)
        exact = _outcome(str(path))
    assert quick == exact, repr(text)
    return quick[0]


EXTRA_LINES = ["Phone: 555-1", "Dept:  Sales ", "Phone: again", "x_y-2:", "Meſſages: 3",
               "Messages: 4", "MESSAGES: 5", "Post office: PO1", "Name: again", " Phone: 1",
               "Phone : 1", "Ph one: 1", "Addr: twice", "Comments: c", "Tel\u00e9fono: 1"]


@pytest.mark.parametrize("seed", range(4))
def test_records_with_lines_of_other_keys_read_as_the_exact_reader(tmp_path, monkeypatch, seed):
    """Lines of other keys after the usual ones are matched with the record
    (ASCII keys that are not known keys); anything else about them sends the
    record to the line reader: each way, the exact reader's outcome."""
    rng = random.Random(100 + seed)
    path = tmp_path / "po.txt"
    outcomes = set()
    for _ in range(150):
        records = [["Post office: PO1"]]
        for _ in range(rng.randint(1, 5)):
            record = _record(rng)
            record += rng.sample(EXTRA_LINES, rng.choice([0, 1, 1, 2, 3]))
            records.append(record)
        text = ("\n" * rng.choice([1, 1, 2])).join("\n".join(r) + "\n" for r in records)
        if rng.random() < 0.3:
            text = text.rstrip("\n")
        outcomes.add(_quick_is_exact(path, text, monkeypatch))
    assert "error" in outcomes and "PO1" in outcomes


def test_usual_records_with_other_keys_are_matched_whole(tmp_path, monkeypatch):
    """The bench's exports add Phone/Dept lines: those records are cut out by
    the record regex, not read by lines, with their extra keys, lines and
    spans as the exact reader gives them."""
    text = ("Post office: PO1\n\nName: A, B\nLocn: L\nAddr:\nMessages: 7\nPhone: 1\nDept: x\n"
            "Phone: 2\n\n\n\nName: C\nLocn: R\nAddr: PO2\n\nName: D\nlocn: L\nphone:  9 ")
    path = tmp_path / "po.txt"
    path.write_text(text, encoding="utf-8")
    parts = quickread._RECORD.split(text)
    assert len(parts) == 1 + 3 * (quickread._GROUPS + 1)  # three records matched whole
    by_lines = []
    monkeypatch.setattr(quickread, "_record_lines", lambda *a: by_lines.append(a) or None)
    f = ccdir.read_directory_file(str(path))
    assert [len(a[0]) for a in by_lines] == [1]  # only the header
    assert [(e.name, e.messages, dict(e.extra), e.where.rsplit(":", 1)[1]) for e in f.entries] \
        == [("A, B", 7, {"Phone": "1", "Dept": "x"}, "3"), ("C", None, {}, "13"),
            ("D", None, {"phone": "9"}, "17")]
    assert list(f.spans) == [(3, 9), (13, 15), (17, 19)]
    monkeypatch.undo()
    monkeypatch.setattr(ccdir, "_quick", lambda *a: None)
    exact = ccdir.read_directory_file(str(path))
    assert list(exact.spans) == list(f.spans) and list(exact.entries) == list(f.entries)


def test_long_runs_of_empty_lines_are_read_in_linear_time(tmp_path):
    """The record regex starts with a literal "\\n\\nName:": its search does
    not try every line of a run of empty lines again (quadratic)."""
    import time

    path = tmp_path / "po.txt"
    path.write_text("Post office: PO1\n" + "\n" * 300_000 + "Name: a\nLocn: L\n"
                    + "\n" * 300_000 + "Name: b\nLocn: L\n" + "\n" * 300_000, encoding="utf-8")
    started = time.process_time()
    f = ccdir.read_directory_file(str(path))
    assert time.process_time() - started < 2
    assert [e.where.rsplit(":", 1)[1] for e in f.entries] == ["300002", "600004"]


@pytest.mark.parametrize("chunk", [1, 7, 40])
def test_texts_split_in_pieces_read_as_the_exact_reader(tmp_path, monkeypatch, chunk):
    """A big file is split a piece at a time (``_chunks``, cut before a
    "\\n\\nName:"): with pieces of a few characters, every cut the random
    texts allow is taken, and the outcome is still the exact reader's."""
    monkeypatch.setattr(quickread, "_CHUNK", chunk)
    rng = random.Random(chunk)
    path = tmp_path / "po.txt"
    cuts = 0
    for _ in range(200):
        records = [["Post office: PO1"]] + [_record(rng) + rng.sample(EXTRA_LINES, rng.choice(
            [0, 0, 1])) for _ in range(rng.randint(1, 6))]
        text = ("\n" * rng.choice([1, 1, 2])).join("\n".join(r) + "\n" for r in records)
        cuts += len(list(quickread._chunks(text))) - 1
        _quick_is_exact(path, text, monkeypatch)
    assert cuts > 100  # pieces were cut (at every possible place when chunk is 1)
