"""docs/runbook.md, run as written on a copy of the demo (issue 16).

Every ``sh`` block of the runbook is run, line by line and in order, by bash in
an empty folder (``ccmig demo copy`` makes the lab there), the way an admin
pastes them. So the doc and the tool cannot drift apart: a command the runbook
shows that fails, or a step whose promise the tool does not keep, fails here.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUNBOOK = ROOT / "docs" / "runbook.md"
DEMO = ROOT / "mocks" / "demo"


def commands(text: str) -> list[str]:
    """The runbook's shell lines, in order (comments kept: bash ignores them)."""
    return [line for block in re.findall(r"^```sh\n(.*?)^```", text, re.S | re.M)
            for line in block.splitlines() if line.strip()]


def tree_hash(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@dataclass
class Step:
    n: int
    line: str
    code: int
    out: str
    err: str

    @property
    def cmd(self) -> str:
        """The command without its comment."""
        return self.line.split(" #")[0].strip()


@dataclass
class Run:
    steps: list[Step]
    lab: Path
    snaps: Path  # snaps/N/ = the lab's cc:Mail folder after step N

    def step(self, pattern: str) -> Step:
        hits = [s for s in self.steps if re.search(pattern, s.cmd)]
        assert len(hits) == 1, (pattern, [s.line for s in hits])
        return hits[0]

    def ccmail_after(self, step: Step) -> dict[str, str]:
        return tree_hash(self.snaps / str(step.n))


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Run:
    work = tmp_path_factory.mktemp("runbook")
    out = tmp_path_factory.mktemp("runbook-out")
    lines = commands(RUNBOOK.read_text(encoding="utf-8"))
    script = ["set -u"]
    for n, line in enumerate(lines):
        script += [f"{{ {line}", f"}} >{out}/{n}.out 2>{out}/{n}.err", f"echo $? >{out}/{n}.code",
                   f"[ -d ccmail ] && mkdir -p {out}/snaps/{n} && cp ccmail/* {out}/snaps/{n}/"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CCMIG_")}
    env.update(HOME=str(work), PATH=f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}",
               PYTHONPATH=str(ROOT), COLUMNS="200")
    bundled = tree_hash(DEMO)
    proc = subprocess.run(["bash", "-c", "\n".join(script)], cwd=work, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr
    assert tree_hash(DEMO) == bundled, "the runbook changed the bundled demo"
    steps = [Step(n, line, int((out / f"{n}.code").read_text()), (out / f"{n}.out").read_text(),
                  (out / f"{n}.err").read_text()) for n, line in enumerate(lines)]
    labs = [p for p in work.iterdir() if (p / "ccmig.toml").exists()]
    assert len(labs) == 1, list(work.iterdir())
    return Run(steps, labs[0], out / "snaps")


def statuses(table: str) -> dict[str, str]:
    """id -> status from apply/undo's table output."""
    return {m.group(1): m.group(2) for m in re.finditer(r"^(\d{4})\s+\S+\s+(\S+)", table, re.M)}


def test_the_documented_commands_cover_the_procedure(run):
    lines = [s.cmd for s in run.steps]
    for pattern in (r"^ccmig demo copy ", r"^export CCMIG_CONFIG=", r"--format ldif",
                    r"^python -m toolkit.mocks\.ldifde ", r"--status missing-primary-address",
                    r"^ccmig plan --post-office PO1 .*-o wave1\.json",
                    r"^ccmig apply wave1\.json(?!.*--yes)", r"^ccmig apply wave1\.json --yes",
                    r"^python -m toolkit.mocks\.ccmail dirsync", r"^ccmig undo wave1\.journal(?!.*--yes)",
                    r"^ccmig undo wave1\.journal --yes"):
        assert any(re.search(pattern, line) for line in lines), pattern
    # the order the runbook promises: primaries, then the wave, then dirsync, then undo
    order = [lines.index(run.step(p).cmd) for p in (
        r"^python -m toolkit.mocks\.ldifde", r"-o wave1\.json", r"apply wave1\.json --yes",
        r"mocks\.ccmail dirsync", r"undo wave1\.journal --yes")]
    assert order == sorted(order)


def test_every_documented_command_works_as_shown(run):
    for s in run.steps:
        assert s.code in (0, 1), f"{s.line}: exit {s.code}: {s.err}"
        assert "Traceback" not in s.err, s.line
    for pattern in (r"^ccmig demo copy", r"^ccmig plan", r"^python -m toolkit.mocks"):
        for s in run.steps:
            if re.search(pattern, s.cmd):
                assert s.code == 0, f"{s.line}: {s.err}"


def test_the_lab_is_a_copy_and_no_lock_is_left(run):
    assert not list(run.lab.rglob("*.lock")), "a lock file was left behind"
    assert (run.lab / "wave1.journal").exists()
    assert tree_hash(run.lab / "ccmail") != tree_hash(DEMO / "ccmail")  # the copy was changed


def test_primaries_come_before_dirsync(run):
    s = run.step(r"--status missing-primary-address")
    assert s.code == 0 and re.search(r"^0 row\(s\)", s.out, re.M), s.out
    plan = json.loads((run.lab / "wave1.json").read_text())
    dirsync = [a for a in plan["actions"] if a["kind"] == "run-dirsync"]
    assert dirsync and not dirsync[0]["blocked"], dirsync


def test_the_wave_holds_the_wave(run):
    with open(run.lab / "before.csv", encoding="utf-8", newline="") as fh:
        old_po = {r["dn"].casefold(): r["old_post_office"] for r in csv.DictReader(fh) if r["dn"]}
    plan = json.loads((run.lab / "wave1.json").read_text())
    named = set()
    for a in plan["actions"]:
        named.update(a["target"].get("mailboxes", []))
        named.add(a["mailbox"] or a["target"].get("dn"))
    named.discard(None)  # run-dirsync has no mailbox of its own
    assert len(named) > 5
    assert {old_po[dn.casefold()].casefold() for dn in named} == {"po1"}


def test_apply_dry_run_shows_what_yes_does(run):
    dry, yes = run.step(r"^ccmig apply wave1\.json(?!.*--yes)"), run.step(r"apply wave1\.json --yes")
    assert dry.code == yes.code
    want = {i: {"would-apply": "applied"}.get(st, st) for i, st in statuses(dry.out).items()}
    got = statuses(yes.out)
    assert "applied" in got.values()
    # --yes --only remove-ccmail-entry leaves the other kinds out: compare the removals
    assert {i: want[i] for i in got} == got


def test_undo_after_dirsync_holds_everyone_back_and_says_so(run):
    dirsync = run.step(r"mocks\.ccmail dirsync")
    dry, yes = run.step(r"^ccmig undo wave1\.journal(?!.*--yes)"), run.step(r"undo wave1\.journal --yes")
    assert statuses(dry.out) == statuses(yes.out) and dry.code == yes.code == 1
    assert set(statuses(yes.out).values()) == {"held-back"}
    assert "is in cc:Mail again" in yes.out and "runbook.md section 5" in yes.err
    assert run.ccmail_after(yes) == run.ccmail_after(dirsync)  # nothing touched
    # and the wave's people are where dirsync put them: at Exchange
    applied = [i for i, st in statuses(run.step(r"apply wave1\.json --yes").out).items()
               if st == "applied"]
    plan = {a["id"]: a for a in json.loads((run.lab / "wave1.json").read_text())["actions"]}
    env = {**os.environ, "CCMIG_CONFIG": str(run.lab / "ccmig.toml"), "CCMIG_PROFILE": "demo"}
    proc = subprocess.run([sys.executable, "-m", "toolkit", "audit", "--format", "json",
                           "--fail-on", "never"], cwd=run.lab, env=env, capture_output=True,
                          text=True, check=True)
    route = {r["dn"]: r["route"] for r in json.loads(proc.stdout) if r["dn"]}
    moved = {plan[i]["mailbox"] for i in applied}
    assert moved and all(route[dn] == "exchange" for dn in moved)
