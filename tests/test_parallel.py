"""toolkit.parallel.ordered_map: the same results, errors and log records in
the same order with a forked worker as in one process."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from toolkit import parallel
from toolkit.errors import InputError
from toolkit.parallel import ENV, jobs, ordered_map

PARENT = os.getpid()


def _work(n: int) -> tuple[int, bool]:
    """Some CPU, then the chunk and whether the worker computed it."""
    total = 0
    for i in range(n * 300):
        total += i
    return n, os.getpid() != PARENT


@pytest.fixture
def two(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    if jobs() != 2:  # not Linux, or a thread runs in this test process
        pytest.fail(f"a worker cannot be forked here (threads: {threading.active_count()})")


def test_results_come_in_order_and_the_worker_computes_some(two: None) -> None:
    out = list(ordered_map(_work, range(200)))
    assert [n for n, _ in out] == list(range(200))
    assert any(w for _, w in out), "the worker computed no chunk"
    assert not all(w for _, w in out), "the parent computed no chunk"


def test_one_process_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "1")
    assert jobs() == 1
    out = list(ordered_map(_work, range(50)))
    assert out == [(n, False) for n in range(50)]


@pytest.mark.parametrize("value", ["0", "3", "two", "-1"])
def test_a_bad_jobs_value_names_the_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(ENV, value)
    with pytest.raises(InputError) as err:
        jobs()
    assert err.value.where == ENV
    assert repr(value) in str(err.value)


def test_another_thread_means_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        assert jobs() == 1
    finally:
        stop.set()
        t.join()


def _fails_at(bad: set[int]):
    def func(n: int) -> int:
        _work(n % 7)
        if n in bad:
            raise InputError(f"chunk {n} is bad", f"file:{n}")
        return n
    return func


@pytest.mark.parametrize("bad", [{0}, {1}, {5, 6}, {6, 5, 40}, {99}])
def test_the_first_bad_chunk_raises_after_every_earlier_result(two: None, bad: set[int]) -> None:
    got: list[int] = []
    with pytest.raises(InputError) as err:
        for n in ordered_map(_fails_at(bad), range(100)):
            got.append(n)
    first = min(bad)
    assert got == list(range(first))
    assert err.value.where == f"file:{first}"  # the attribute survives the pipe
    assert str(err.value) == f"file:{first}: chunk {first} is bad"


class _Odd(Exception):
    def __init__(self, a: int, b: int) -> None:  # does not unpickle from its args
        super().__init__(f"odd {a} {b}")


def test_an_exception_that_does_not_pickle_is_described(two: None) -> None:
    def func(n: int) -> int:
        if n == 3:
            raise _Odd(1, 2)
        return n

    seen = []
    with pytest.raises(RuntimeError) as err:  # whichever process computed it
        for n in ordered_map(func, range(10)):
            seen.append(n)
    assert seen == [0, 1, 2]
    assert str(err.value) == "_Odd: odd 1 2"


def test_log_records_come_at_their_chunks_turn(two: None, caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("ccmig.test.parallel")

    def func(n: int) -> int:
        _work(3)
        log.warning("chunk %d", n)
        return n

    with caplog.at_level(logging.WARNING, logger="ccmig.test.parallel"):
        for n in ordered_map(func, range(60)):
            log.warning("got %d", n)
    assert [r.getMessage() for r in caplog.records] == [
        m for n in range(60) for m in (f"chunk {n}", f"got {n}")]


def test_a_dead_worker_leaves_the_parent_to_finish(two: None) -> None:
    def func(n: int) -> int:
        if n == 9 and os.getpid() != PARENT:
            os.kill(os.getpid(), signal.SIGKILL)
        _work(2)
        return n

    assert list(ordered_map(func, range(40))) == list(range(40))


def test_stopping_early_ends_the_worker(two: None) -> None:
    it = ordered_map(_work, range(10_000))
    assert next(it)[0] == 0
    pair = it.gi_frame.f_locals["self"]  # type: ignore[attr-defined]
    pid = pair.pid
    assert pid > 0
    it.close()
    with pytest.raises(ChildProcessError):  # reaped: no zombie left behind
        os.waitpid(pid, os.WNOHANG)


def test_a_worker_does_not_fork_again(two: None) -> None:
    def func(n: int) -> int:
        return jobs()

    assert set(ordered_map(func, range(30))) <= {1, 2}
    assert 1 in set(ordered_map(func, range(30)))


def test_results_that_do_not_pickle_are_an_error_not_a_hang(two: None) -> None:
    def func(n: int) -> object:
        _work(2)
        return (lambda: n) if os.getpid() != PARENT else n

    with pytest.raises(RuntimeError, match="does not pickle"):
        list(ordered_map(func, range(50)))


def test_the_worker_is_gone_after_a_full_run(two: None) -> None:
    it = parallel._Pair(_work, iter(range(20)))
    assert [n for n, _ in it.results()] == list(range(20))
    assert it.pid == 0


def test_chunks_and_results_bigger_than_the_pipes_do_not_hang(two: None) -> None:
    """A chunk handed ahead to a busy worker must never wait for it: one too
    big for the task pipe is computed by the parent instead."""
    big = 3 * parallel._PIPE

    def func(n: int | bytes) -> tuple[int, bool, bytes]:
        size = n if isinstance(n, int) else len(n)
        return size, os.getpid() != PARENT, b"r" * big

    def hung(signum: int, frame: object) -> None:
        raise TimeoutError("ordered_map hung")

    chunks = [b"c" * big if n % 2 else n for n in range(12)]
    before = signal.signal(signal.SIGALRM, hung)  # a hang fails this test, not the run
    signal.alarm(30)
    try:
        out = list(ordered_map(func, chunks))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, before)
    assert [size for size, _w, _r in out] == [big if n % 2 else n for n in range(12)]
    assert all(len(r) == big for _s, _w, r in out)
    assert any(w for _s, w, _r in out)


def test_the_parent_waits_for_a_slow_worker_rather_than_pile_up_results(two: None) -> None:
    """Results waiting behind the worker's are bounded (memory): with the
    worker stalled on its first chunk, the parent computes a few, then waits."""
    import time

    def func(n: int) -> tuple[int, bool, float]:
        worker = os.getpid() != PARENT
        if worker and n == 0:
            time.sleep(0.5)
        return n, worker, time.monotonic()

    out = list(ordered_map(func, range(40)))
    assert [n for n, _w, _t in out] == list(range(40))
    first_answer = out[0][2]
    early = [n for n, w, t in out if not w and t < first_answer]
    assert 0 < len(early) <= parallel._QUEUE - parallel._AHEAD


def test_the_worker_is_handed_its_next_chunk_before_it_answers(two: None) -> None:
    """Two chunks away: the worker computes the first two chunks."""
    out = list(ordered_map(_work, [50, 50, 1, 1]))
    assert [w for _n, w in out][:2] == [True, True]


def test_the_cli_refuses_a_bad_jobs_value_before_reading(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from toolkit.cli.main import cli

    missing = tmp_path / "nowhere.ldif"  # never opened: the variable is checked first
    result = CliRunner().invoke(cli, ["recipients", "--ldif", str(missing)],
                                env={ENV: "4"})
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == ["ccmig: error: CCMIG_JOBS: must be 1 or 2, not '4'"]


def test_an_exception_from_the_chunks_comes_after_every_earlier_result(two: None) -> None:
    def chunks() -> Iterator[int]:  # a reader failing mid-way
        yield from range(25)
        raise InputError("the read broke", "source:25")

    got: list[int] = []
    with pytest.raises(InputError, match="the read broke"):
        for n, _w in ordered_map(_work, chunks()):
            got.append(n)
    assert got == list(range(25))


def test_background_computes_in_the_worker_while_the_caller_goes_on(two: None) -> None:
    from toolkit.parallel import background

    log = logging.getLogger("ccmig.test.parallel")

    def func() -> tuple[int, bool]:
        log.warning("in the background")
        return 42, os.getpid() != PARENT

    later = background(func)
    assert _work(50)[0] == 50  # the caller goes on
    assert later() == (42, True)


@pytest.mark.parametrize("size", [300_000, 3_000_000])  # under and over the 1 MB pipes
def test_background_worker_leaves_once_its_result_is_written(two: None, size: int,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             ) -> None:
    """It does not wait for the caller to ask (it would hold a copy of
    every page the caller writes meanwhile): it has exited, a zombie, long
    before the result is read - whatever the result's size (until session
    16 one over the pipe's 1 MB kept the worker waiting). Both with memfd
    and with the temporary file used where there is none."""
    from toolkit.parallel import background

    def children() -> set[int]:
        return {int(c) for c in Path(f"/proc/{os.getpid()}/task/{threading.get_native_id()}"
                                     "/children").read_text().split()}

    for memfd in (True, False):
        if not memfd:
            monkeypatch.delattr(os, "memfd_create", raising=False)
        _leaves_and_answers(background, children, size)


def _leaves_and_answers(background: Any, children: Any, size: int) -> None:
    import time

    before = children()  # (a fixture's server may be a child of this process too)
    later = background(lambda: (os.getpid(), "x" * size))
    deadline = time.monotonic() + 20
    pid = None
    while time.monotonic() < deadline:
        kids = children() - before
        if kids:
            (pid,) = kids
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            if state == "Z":
                break
        time.sleep(0.01)
    else:
        pytest.fail(f"the worker {pid} is still running")
    got, text = later()
    assert got == pid and len(text) == size
    assert not Path(f"/proc/{pid}").exists()  # reaped


def test_background_in_one_process_runs_at_once_and_raises_when_asked(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from toolkit.parallel import background

    monkeypatch.setenv(ENV, "1")
    ran: list[bool] = []

    def func() -> int:
        ran.append(True)
        raise InputError("bad", "there")

    later = background(func)
    assert ran == [True]  # before the caller goes on: its memory is freed first
    with pytest.raises(InputError, match="there: bad"):
        later()


def test_background_without_a_file_for_the_result_runs_here(two: None,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """No anonymous file to be had (no memfd, no writable temporary
    directory): the work is done at once in this process, as with one job."""
    from toolkit.parallel import background

    monkeypatch.setattr(parallel, "_scratch", lambda: None)
    ran: list[int] = []
    later = background(lambda: ran.append(os.getpid()) or 5)
    assert ran == [PARENT]
    assert later() == 5


def test_background_errors_and_a_dead_worker(two: None) -> None:
    from toolkit.parallel import background

    def fails() -> int:
        raise InputError("bad", "there")

    with pytest.raises(InputError) as err:
        background(fails)()
    assert err.value.where == "there"

    def dies() -> int:
        if os.getpid() != PARENT:
            os.kill(os.getpid(), signal.SIGKILL)
        return 7

    assert background(dies)() == 7  # computed here when the worker has gone


_MAPPED = """
import ctypes, sys
if sys.argv[1] == "toolkit":
    import toolkit.parallel
    toolkit.parallel.keep_large_blocks_mapped()
elif sys.argv[1] == "imported":
    import toolkit.cli.main  # the library imported: the process's policy is its own
def in_heap(block):
    address = ctypes.addressof(ctypes.c_char.from_buffer(block))
    for line in open("/proc/self/maps").read().splitlines():
        if line.endswith("[heap]"):
            lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
            if lo <= address < hi:
                return True
    return False
big = bytearray(8 << 20)  # mapped, then freed: glibc would raise its threshold to 8 MB
del big
print(in_heap(bytearray(2_000_000)), in_heap(bytearray(300_000)))
"""


def test_large_blocks_stay_mapped_after_a_larger_one_is_freed() -> None:
    """glibc raises its mmap threshold when a large mapped block is freed
    and takes later large blocks from the heap, where a long-lived one pins
    the holes around it (pages a forked worker then copies): calling
    ``keep_large_blocks_mapped`` (the command line does) keeps the threshold at
    1 MB; importing the library changes nothing. (A fresh process each:
    a block is taken from the heap's free chunks when one is large enough.)"""
    import subprocess
    import sys

    assert os.confstr("CS_GNU_LIBC_VERSION"), "the tests run on glibc"

    def heap_or_not(imported: str) -> list[str]:
        return subprocess.run([sys.executable, "-c", _MAPPED, imported], check=True,
                              capture_output=True, text=True).stdout.split()

    assert heap_or_not("plain") == ["True", "True"]  # what glibc does by itself
    assert heap_or_not("toolkit") == ["False", "True"]
    assert heap_or_not("imported") == ["True", "True"]
