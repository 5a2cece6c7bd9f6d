"""``toolkit.progress.counting`` off a terminal: the items' own iterator, nothing around it.

(Its output on a terminal is tested in tests/test_cli.py.) Every directory
object read passes through it: off a terminal it must not add a generator
resumption per object, nor change what is read or when the source starts.
"""

from __future__ import annotations

import io
import sys

from toolkit import progress


def test_off_a_terminal_counting_hands_back_the_iterator_itself(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    started = []

    def source():
        started.append(True)
        yield from (1, 2, 3)

    items = source()
    counted = progress.counting(items, "objects")
    assert counted is items and not started  # lazy as before: nothing read yet
    assert list(counted) == [1, 2, 3]
    assert list(progress.counting([4, 5], "objects")) == [4, 5]


def test_quiet_counting_hands_back_the_iterator_even_on_a_terminal(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    monkeypatch.setattr(progress, "ENABLED", False)
    items = iter(range(3))
    assert progress.counting(items, "objects") is items
    assert list(items) == [0, 1, 2] and tty.getvalue() == ""


def test_a_source_read_in_chunks_stays_chunked(monkeypatch):
    """``counting_source``: a Chunked source stays one (on a terminal, watched:
    its count grows by a chunk's entries), any other is counted item by item."""
    from toolkit.exchange.dialects import Chunked, Watched

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    class Two(Chunked):
        def chunks(self):
            return iter([[1, 2], [3]])

        def decode(self, chunk):
            return chunk

    monkeypatch.setattr(sys, "stderr", Tty())
    watched = progress.counting_source(Two(), "objects")
    assert isinstance(watched, Watched) and list(watched) == [1, 2, 3]
    assert sys.stderr.getvalue().endswith("objects: 3\n")
    items = progress.counting_source(iter([4, 5]), "objects")
    assert not isinstance(items, Chunked) and list(items) == [4, 5]
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # off a terminal: the source itself
    source = Two()
    assert progress.counting_source(source, "objects") is source
