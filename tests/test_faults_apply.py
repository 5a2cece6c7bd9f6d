"""kill -9 at random points of ``apply`` and ``undo`` (issue 7).

A generated organisation (mocks/orggen) gives a plan with about ninety
cc:Mail removals across six post-office files. An uninterrupted ``apply`` is
timed (the shorter of two runs); every run then starts ``ccmig apply --yes`` (or
``undo --yes``) in a child process and kills it after a delay drawn uniformly
from [0, that duration] by a seeded ``random.Random`` (a run that ends before
its kill shortens the range if it was quicker: on a busy machine the first
timing can be long). After every kill, before
any recovery:

- the journal reads, and its removals chain file by file (each one's
  ``sha_before`` is the state the previous one left);
- every cc:Mail file parses and is byte for byte the state the journal says it
  is in: the last recorded change made, or, for the changes in flight (apply
  journals all of a file's removals, then rewrites the file once: the
  ``intent`` records without their ``done``, all of one file; in an undo, the
  newest change not yet marked ``undone``), the state just before or just after
  them. Never anything else, so never half-written.

Then the runs alternate two recoveries: ``undo --yes`` gives back every file
byte for byte; a resumed ``apply --yes`` gives exactly the files of the
uninterrupted apply, with every change of it journalled ``done`` exactly once.
After either, no ``.NAME.ccmig-tmp`` is left. A second loop kills ``undo``
itself; undo run again completes.

``CCMIG_KILL_RUNS`` (default 12) sets the number of runs of each loop,
``CCMIG_KILL_SEED`` the seed; a failure names seed, run, the drawn fraction of
the duration and the delay.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from toolkit.mocks.orggen import Settings, generate

from tests.orgkit import CONNECTOR, ccmig, entry, mailbox, podir
from toolkit.ccmail.directory import read_directory_file
from toolkit.remediation import ccmail_files as cf
from toolkit.remediation.journal import Journal, JournalState, read_journal

RUNS = int(os.environ.get("CCMIG_KILL_RUNS", "12"))
SEED = int(os.environ.get("CCMIG_KILL_SEED", "20260707"))
ONLY = ("--only", "remove-ccmail-entry")
INTERRUPTED = "interrupted before the change was made"
REPO = Path(__file__).resolve().parent.parent


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Site:
    """A generated organisation, its plan, and what an uninterrupted apply did."""

    root: Path
    files: list[Path]
    plan: Path
    env: dict[str, str]
    start: dict[Path, bytes] = field(default_factory=dict)
    reference: dict[Path, bytes] = field(default_factory=dict)
    ref_journal: bytes = b""
    ref_code: int = 0
    ref_status: dict[str, str] = field(default_factory=dict)
    ref_done: list[str] = field(default_factory=list)
    apply_seconds: float = 0.0
    undo_seconds: float = 0.0

    @property
    def journal(self) -> Path:
        return Path(f"{self.plan}.journal")

    def contents(self) -> dict[Path, bytes]:
        return {p: p.read_bytes() for p in self.files}

    def temps(self) -> list[Path]:
        return sorted(self.files[0].parent.glob(".*.ccmig-tmp"))

    def reset(self, files: dict[Path, bytes], journal: bytes | None = None) -> None:
        """Put the files (and the journal, or none) back as given; no temp file."""
        for p, data in files.items():
            if p.read_bytes() != data:
                p.write_bytes(data)
        for t in self.temps():
            t.unlink()
        self.journal.unlink(missing_ok=True)
        if journal is not None:
            self.journal.write_bytes(journal)

    def kill_after(self, delay: float, *args: str) -> tuple[int, float | None]:
        """Run ``ccmig ARGS`` in a child process and kill -9 it ``delay`` s after its
        start unless it ends first: (exit code, seconds it took if it ended first)."""
        t0 = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "toolkit", *args], env=self.env, cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            code = proc.wait(timeout=max(0.0, delay - (time.monotonic() - t0)))
        except subprocess.TimeoutExpired:
            proc.kill()  # SIGKILL on POSIX (TerminateProcess on Windows)
            return proc.wait(), None
        return code, time.monotonic() - t0


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Site:
    with pytest.MonkeyPatch.context() as mp:  # as the autouse `isolated` fixture does
        mp.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config-home")))
        for var in ("CCMIG_CONFIG", "CCMIG_PROFILE", "CCMIG_LDAP_PASSWORD",
                    "CCMIG_EXCHANGE_PASSWORD"):
            mp.delenv(var, raising=False)
        return _make_site(tmp_path_factory.mktemp("kill"))


def _make_site(root: Path) -> Site:
    generate(Settings(people=400, seed=7, spokes=5), root)
    files = sorted((root / "ccmail").glob("*.txt"))
    plan = root / "plan.json"
    args = ["--ldif", str(root / "org.ldif"), "--exchange-po", "EXCH",
            "--mailbox-stats", str(root / "stats.csv"),
            *[a for p in files for a in ("--ccmail-dir", str(p))]]
    code, _, err = ccmig("plan", *args, "-o", str(plan))
    assert code == 0, err
    s = Site(root, files, plan, dict(os.environ))
    s.start = s.contents()
    removals = [a for a in json.loads(plan.read_text())["actions"]
                if a["kind"] == "remove-ccmail-entry" and not a["blocked"] and not a["manual"]]
    assert len(removals) >= 80 and len({a["target"]["post_office"] for a in removals}) == 6

    # The reference: an uninterrupted apply in a child process, then its undo; twice,
    # timed (the shorter time of each: a busy machine only makes a run longer).
    apply_times, undo_times = [], []
    for attempt in range(2):
        t0 = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "toolkit", "apply", str(plan), "--yes",
                               *ONLY, "--format", "json"], env=s.env, cwd=REPO, capture_output=True,
                              text=True, check=False)
        apply_times.append(time.monotonic() - t0)
        assert proc.returncode in (0, 1), proc.stderr
        status = {o["id"]: o["status"] for o in json.loads(proc.stdout)}
        if attempt == 0:
            s.ref_code, s.ref_status, s.reference = proc.returncode, status, s.contents()
            s.ref_journal = s.journal.read_bytes()
        else:  # the same plan on the same files: the same result, byte for byte
            assert (proc.returncode, status, s.contents()) == (s.ref_code, s.ref_status,
                                                               s.reference)
        t0 = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "toolkit", "undo", str(s.journal), "--yes"],
                              env=s.env, cwd=REPO, capture_output=True, text=True, check=False)
        undo_times.append(time.monotonic() - t0)
        assert proc.returncode == 0, proc.stderr
        assert s.contents() == s.start
        s.journal.unlink()
    s.apply_seconds, s.undo_seconds = min(apply_times), min(undo_times)
    state = read_journal_bytes(s.ref_journal, root / "ref.journal")
    s.ref_done = sorted(e.action for e in state.entries if e.state == "done")
    assert len(s.ref_done) >= 80 and all(e.state == "done" for e in state.entries)
    assert s.ref_done == sorted(i for i, st in s.ref_status.items() if st == "applied")
    assert all(s.reference[p] != s.start[p] for p in files)  # every file is edited
    return s


def read_journal_bytes(data: bytes, path: Path) -> JournalState:
    path.write_bytes(data)
    return read_journal(path)


# --------------------------------------------------------------------------- checks


def removals_by_file(state: JournalState) -> dict[str, list]:
    """The journal's cc:Mail removals that may have been made, per file, in order."""
    out: dict[str, list] = defaultdict(list)
    for e in state.entries:
        assert e.change["type"] == "ccmail-remove", e
        if e.state != "failed":  # a failed intent was never made
            out[e.change["file"]].append(e)
    return out


def check_files_after_kill(s: Site, state: JournalState, in_flight, where: str) -> str | None:
    """Every file parses and is in the state the journal says (see the module doc).

    ``in_flight`` is the entry whose change (with the pending ones of its file before
    it) may or may not be in the file.
    Returns the name of the file found in the other state of that change, if any.
    """
    chains = removals_by_file(state)
    assert set(chains) <= {str(p) for p in s.files}, where
    caught = None
    for p in s.files:
        data = p.read_bytes()
        read_directory_file(p)  # parses (InputError otherwise)
        chain = chains.get(str(p), [])
        before = sha(s.start[p])
        for e in chain:
            assert e.change["sha_before"] == before, f"{where}: journal chain broken at {e}"
            before = e.change["sha_after"]
        # made for sure: done and not yet undone (the change in flight of an undo is
        # such one); an apply's change in flight is the intent after them
        made = [e for e in chain if e.state == "done"]
        settled = made[-1].change["sha_after"] if made else sha(s.start[p])
        if in_flight is not None and in_flight.change["file"] == str(p):
            other = (in_flight.change["sha_after"] if in_flight.state == "intent"
                     else in_flight.change["sha_before"])
        else:
            other = None
        now = sha(data)
        if now == other:
            caught = p.name
        else:
            assert now == settled, (
                f"{where}: {p.name} is neither the state the journal records nor the other "
                f"side of the change in flight (file {len(data)} bytes)")
    return caught


def done_once(state: JournalState, where: str) -> list[str]:
    """Each change done at most once; what a settled kill left is failed, never pending."""
    done = Counter(e.action for e in state.entries if e.state == "done")
    assert all(n == 1 for n in done.values()), f"{where}: done twice: {done.most_common(3)}"
    for e in state.entries:
        assert e.state in ("done", "failed"), f"{where}: left {e.state}: {e}"
        if e.state == "failed":
            assert e.error == INTERRUPTED and e.action in done, f"{where}: {e}"
    return sorted(done)


def after_kill(s: Site, what: str, killed: bool, where: str) -> str:
    """The checks after ``what`` (apply or undo) was killed, before any recovery; what
    the kill interrupted, in words."""
    state = read_journal(s.journal)  # reads (InputError otherwise)
    entries = state.entries
    pending = [e for e in entries if e.state == "intent"]
    # apply journals a file's removals together, then writes the file once: the pending
    # intents are the journal's last entries, all of one file, and they are made together
    assert pending == entries[len(entries) - len(pending):], where
    assert len({e.change["file"] for e in pending}) <= 1, where
    for e in entries:
        if e.state == "failed":
            assert e.error == INTERRUPTED, f"{where}: {e}"
    made = [e for e in entries if e.state in ("done", "undone")]
    undone = sum(e.state == "undone" for e in made)
    # an undo reverts newest first: the undone changes are the newest ones
    assert [e.state for e in made] == ["done"] * (len(made) - undone) + ["undone"] * undone, where
    if pending:  # a file's batch of intents, made or not (an undo killed before it settled it)
        in_flight = pending[-1]
    elif what == "undo" and undone < len(made):  # the next to revert, reverted or not:
        # undo puts back a run of one file's removals in one write, so the file is as
        # before the run or as after it, the oldest of the run reverted too
        k = len(made) - undone - 1
        while k > 0 and made[k - 1].change["file"] == made[k].change["file"]:
            k -= 1
        in_flight = made[k]
    else:
        assert what == "undo" or not undone, where
        in_flight = None
    caught = check_files_after_kill(s, state, in_flight, where)
    if not killed:
        assert not pending, where
        return f"{what} finished before the kill"
    if not entries or (what == "undo" and not undone and not caught and not pending):
        return f"{what} killed before its first change"
    if caught:
        return f"{what} killed after a change, before its record"
    if pending:
        return f"{what} killed with an intent pending, its change not made"
    return f"{what} killed between two changes"


def recover_by_undo(s: Site, where: str) -> None:
    if s.journal.exists():
        code, out, err = ccmig("undo", str(s.journal), "--yes")
        assert code == 0, f"{where}: {out}{err}"
        for e in read_journal(s.journal).entries:
            assert e.state == "undone" or (e.state, e.error) == ("failed", INTERRUPTED), where
    # else: killed before the journal existed, so before any change
    assert s.contents() == s.start, where
    assert not s.temps(), where


def recover_by_resume(s: Site, where: str) -> None:
    code, out, err = ccmig("apply", str(s.plan), "--yes", *ONLY, "--format", "json")
    assert code == s.ref_code, f"{where}: {err}"
    status = {o["id"]: o["status"] for o in json.loads(out)}
    assert set(status) == set(s.ref_status), where
    for i, ref in s.ref_status.items():
        ok = {"applied", "already-done"} if ref == "applied" else {ref}
        assert status[i] in ok, f"{where}: action {i} {status[i]}, not {ok}"
    assert s.contents() == s.reference, where
    assert done_once(read_journal(s.journal), where) == s.ref_done, where
    assert not s.temps(), where


def recover(s: Site, recovery: str, where: str) -> None:
    (recover_by_undo if recovery == "undo" else recover_by_resume)(s, where)


def draw(rng: random.Random, seconds: float, late: bool = False) -> tuple[float, str]:
    u = rng.random()
    if late:  # the last quarter: the changes come after start-up and the fresh read
        u = 0.75 + u / 4
    return u * seconds, f"{u:.4f} x {seconds:.3f}s = {u * seconds:.3f}s"


def reached_the_changes(seen: Counter[str]) -> int:
    return sum(n for what, n in seen.items() if what.startswith("apply killed ")
               and "before its first" not in what)


# --------------------------------------------------------------------------- the loops


def test_kill_apply_at_random_points_then_undo_or_resume(site):
    """Even runs recover by undo, odd ones by a resumed apply; every fourth run of
    each kind has its recovery killed too before a second one completes.

    An apply's changes take a few milliseconds of its run (one rewrite per file),
    so uniform delays may all land before them: until one has reached them, extra
    runs (at most 4 x RUNS) draw from the last quarter of the run."""
    s = site
    rng = random.Random(SEED)
    seen: Counter[str] = Counter()
    run = 0
    while run < RUNS or (RUNS >= 6 and not reached_the_changes(seen) and run < 5 * RUNS):
        delay, drawn = draw(rng, s.apply_seconds, late=run >= RUNS)
        recovery = "undo" if run % 2 == 0 else "resume"
        twice = run % 4 >= 2
        where = f"seed {SEED} run {run}: apply killed at {drawn}, then {recovery}"
        s.reset(s.start)
        code, took = s.kill_after(delay, "apply", str(s.plan), "--yes", *ONLY)
        if took is not None:  # the shortest whole run seen is the range of the next delays
            s.apply_seconds = min(s.apply_seconds, took)
        else:
            assert code != 0, where
        seen[after_kill(s, "apply", took is None, where)] += 1

        if twice:  # the recovery is killed too
            if recovery == "undo":
                delay, drawn = draw(rng, s.undo_seconds)
                where += f", killed at {drawn}, then undo again"
                code, took = s.kill_after(delay, "undo", str(s.journal), "--yes")
                seen[after_kill(s, "undo", took is None, where) + " (recovering)"] += 1
            else:
                delay, drawn = draw(rng, s.apply_seconds)
                where += f", killed at {drawn}, then resumed again"
                code, took = s.kill_after(delay, "apply", str(s.plan), "--yes", *ONLY)
                seen[after_kill(s, "apply", took is None, where) + " (resuming)"] += 1
        recover(s, recovery, where)
        run += 1
    s.reset(s.start)
    print(f"\napply kill loop, seed {SEED}, {run} runs, apply {s.apply_seconds:.2f}s: "
          + ", ".join(f"{n} {what}" for what, n in sorted(seen.items())))
    if RUNS >= 6:  # the delays must reach the changes, not only start-up and the end
        assert reached_the_changes(seen), seen


def test_kill_undo_at_random_points_then_undo_again(site):
    s = site
    rng = random.Random(SEED + 1)
    seen: Counter[str] = Counter()
    for run in range(RUNS):
        delay, drawn = draw(rng, s.undo_seconds)
        where = f"seed {SEED + 1} run {run}: undo of a whole apply killed at {drawn}"
        s.reset(s.reference, s.ref_journal)
        code, took = s.kill_after(delay, "undo", str(s.journal), "--yes")
        if took is not None:
            assert code == 0, where
            s.undo_seconds = min(s.undo_seconds, took)
        seen[after_kill(s, "undo", took is None, where)] += 1
        recover_by_undo(s, where)
        assert all(e.state == "undone" for e in read_journal(s.journal).entries), where
    s.reset(s.start)
    print(f"\nundo kill loop, seed {SEED + 1}, {RUNS} runs, undo {s.undo_seconds:.2f}s: "
          + ", ".join(f"{n} {what}" for what, n in sorted(seen.items())))


# --------------------------------------------------------------------------- fixed points
# The loops hit the narrow windows only by chance; these put a kill exactly there.


def _applied(s: Site) -> JournalState:
    s.reset(s.reference, s.ref_journal)
    return read_journal(s.journal)


def _removal(e) -> cf.Removal:
    return cf.Removal(**{k: e.change[k] for k in cf.Removal.__dataclass_fields__})


def test_undo_killed_after_a_revert_before_its_record(site):
    """The file is back, the journal still says done: the next undo must not fail on it.
    (Undo puts back a run of one file's removals in one write: the last file's.)"""
    s = site
    entries = _applied(s).entries
    run = [e for e in entries if e.change["file"] == entries[-1].change["file"]]
    assert len(run) > 1 and run == entries[-len(run):]
    cf.revert_removals([_removal(e) for e in reversed(run)])
    assert after_kill(s, "undo", True, "fixed") == "undo killed after a change, before its record"
    code, out, err = ccmig("undo", str(s.journal), "--yes")
    assert code == 0, out + err
    assert s.contents() == s.start
    s.reset(s.start)


@pytest.mark.parametrize("recovery", ["undo", "resume"])
def test_apply_killed_inside_atomic_write(site, recovery):
    """The intent is journalled, the temp file half-written, the rename not made."""
    s = site
    s.reset(s.reference)
    lines = s.ref_journal.rstrip(b"\n").split(b"\n")
    assert json.loads(lines[-1])["type"] == "done"
    s.journal.write_bytes(b"\n".join(lines[:-1]) + b"\n")  # no done record for the last change
    last = read_journal(s.journal).entries[-1]
    assert last.state == "intent"
    cf.revert_removal(_removal(last))  # ... and the change not made
    target = Path(last.change["file"])
    target.with_name(f".{target.name}.ccmig-tmp").write_bytes(s.reference[target][:1000])
    where = f"apply killed in atomic_write of {target.name}, then {recovery}"
    assert after_kill(s, "apply", True, where) == "apply killed with an intent pending, its change not made"
    recover(s, recovery, where)
    s.reset(s.start)


def test_undo_killed_inside_atomic_write(site):
    """A temp file beside a cc:Mail file (undo killed before its rename): undo again
    reverts, and no temp file is left."""
    s = site
    last = _applied(s).entries[-1]
    target = Path(last.change["file"])
    tmp = target.with_name(f".{target.name}.ccmig-tmp")
    tmp.write_bytes(s.start[target][: len(s.start[target]) // 2])  # half-written
    code, out, err = ccmig("undo", str(s.journal), "--yes")
    assert code == 0, out + err
    assert s.contents() == s.start and not s.temps()
    s.reset(s.start)


def test_torn_journal_record_is_cut_before_appending(site):
    """A crash can leave the last record torn (power loss, full disk). The next run
    must not glue its records onto it (the journal would no longer read)."""
    s = site
    s.reset(s.reference, s.ref_journal)
    record = '{"type": "intent", "seq": 999, "action": "0001", "change": {"lines": ["Name: Ø'
    torn = s.ref_journal + record.encode()[:-1]  # cut inside the UTF-8 of Ø, too
    s.journal.write_bytes(torn)
    assert len(read_journal(s.journal).entries) == len(s.ref_done)  # the torn record is ignored
    code, out, err = ccmig("undo", str(s.journal), "--yes")
    assert code == 0, out + err
    assert s.contents() == s.start
    state = read_journal(s.journal)  # reads after the undo appended to it
    assert len(state.entries) == len(s.ref_done) and all(e.state == "undone" for e in state.entries)
    assert state.runs[-1]["what"] == "undo"
    s.reset(s.start)


def test_whole_last_record_without_line_break_is_kept(tmp_path):
    path = tmp_path / "j"
    path.write_bytes(b'{"type": "run", "what": "apply"}\n{"type": "intent", "seq": 1, "action": "0001", '
                     b'"kind": "k", "change": {"type": "ccmail-remove"}}')
    with Journal(path) as journal:
        journal.mark(journal.state.entries[0], "failed", "x")
    state = read_journal(path)
    assert [(e.seq, e.state) for e in state.entries] == [(1, "failed")]


def test_line_separators_inside_a_record(org, tmp_path):
    """A cc:Mail value may hold U+2028 or U+0085, which JSON leaves raw: a journal
    split with str.splitlines() would break that record in two and stop reading."""
    org.objects = [mailbox("Smith, John", "CCMAIL:Smith, John at EXCH",
                           "ccmail:Smith, John at PO1", nick="smith")]
    org.dirs = {"HUBPO": podir("HUBPO", CONNECTOR),
                "PO1": podir("PO1", entry("Smith, John", messages=1,
                                          comments="2nd\u2028floor\x85east"),
                             entry("Keep, Kim", messages=1))}
    args = [*org.write(), "--exchange-po", "EXCH"]
    stats = tmp_path / "stats.csv"
    stats.write_text("identity,item_count\nsmith,10\n")
    plan = tmp_path / "plan.json"
    assert ccmig("plan", *args, "--mailbox-stats", str(stats), "-o", str(plan))[0] == 0
    start = (org.root / "PO1.txt").read_bytes()
    code, out, err = ccmig("apply", str(plan), "--yes", *ONLY)
    assert " applied " in out, out + err
    assert "\u2028".encode() in Path(f"{plan}.journal").read_bytes()
    assert [e.state for e in read_journal(f"{plan}.journal").entries] == ["done"]
    code, out, err = ccmig("undo", f"{plan}.journal", "--yes")
    assert code == 0, out + err
    assert (org.root / "PO1.txt").read_bytes() == start


def test_resume_reports_a_change_settled_as_made_as_already_done(site):
    s = site
    s.reset(s.reference, s.ref_journal)
    lines = s.ref_journal.rstrip(b"\n").split(b"\n")
    assert json.loads(lines[-1])["type"] == "done"
    s.journal.write_bytes(b"\n".join(lines[:-1]) + b"\n")  # killed before its done record
    last = read_journal(s.journal).entries[-1]
    assert last.state == "intent"
    code, out, err = ccmig("apply", str(s.plan), "--yes", *ONLY, "--format", "json")
    status = {o["id"]: o["status"] for o in json.loads(out)}
    s.reset(s.start)
    assert status[last.action] == "already-done"


def test_apply_killed_between_two_files_then_undo(site):
    """A kill after one file's batch, before the next file's intents: people whose
    entries span both files are half removed, their other entries untouched and not
    in the journal. Undo must still put them back whole (those entries are the
    plan's, not ones dirsync added), and a resumed apply must finish the job."""
    s = site
    lines = s.ref_journal.rstrip(b"\n").split(b"\n")
    records = [json.loads(line) for line in lines]
    first_file = next(r["change"]["file"] for r in records if r["type"] == "intent")
    first_seqs = {r["seq"] for r in records
                  if r["type"] == "intent" and r["change"]["file"] == first_file}
    cut = max(n for n, r in enumerate(records) if r["type"] == "done" and r["seq"] in first_seqs)
    assert cut < len(records) - 1  # other files follow
    files = {p: (s.reference[p] if str(p) == first_file else s.start[p]) for p in s.files}
    for recovery in ("undo", "resume"):
        s.reset(files, b"\n".join(lines[:cut + 1]) + b"\n")
        where = f"apply killed between two files, then {recovery}"
        assert after_kill(s, "apply", True, where) == "apply killed between two changes"
        recover(s, recovery, where)
    s.reset(s.start)


@pytest.mark.parametrize("recovery", ["undo", "resume"])
def test_apply_killed_after_a_files_rewrite_before_its_done_records(site, recovery):
    """The last file is rewritten with its whole batch; none of the batch's done
    records is written. Settling reads the chain: all of them were made."""
    s = site
    records = [json.loads(line) for line in s.ref_journal.rstrip(b"\n").split(b"\n")]
    last_file = [r for r in records if r["type"] == "intent"][-1]["change"]["file"]
    batch = {r["seq"] for r in records if r["type"] == "intent"
             and r["change"]["file"] == last_file}
    assert len(batch) > 1
    kept = [r for r in records if not (r["type"] == "done" and r["seq"] in batch)]
    s.reset(s.reference, "".join(json.dumps(r, ensure_ascii=False) + "\n"
                                 for r in kept).encode())
    where = f"apply killed after rewriting {Path(last_file).name}, then {recovery}"
    assert after_kill(s, "apply", True, where) == "apply killed after a change, before its record"
    recover(s, recovery, where)
    s.reset(s.start)
