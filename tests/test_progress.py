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
