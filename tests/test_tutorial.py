"""docs/tutorial.md, run as written: every ``sh`` block is executed in order in
one bash session on a scratch copy of the demo (or carries a ``<!--
tutorial-test: skip (why) -->`` line saying why it cannot run here), each
command must exit as the text says, and what the text quotes of the output
must be what the tool prints. Docs and tool cannot drift apart unnoticed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TUTORIAL = ROOT / "docs" / "tutorial.md"
SKIP = re.compile(r"<!-- tutorial-test: skip \((.+)\) -->")
MARK = "@@ccmig-tutorial-rc="


@dataclass
class Command:
    text: str
    expect: int | None  # "# exits N" in the doc; None: 0 or 1
    rc: int = -1
    out: str = ""


def blocks(text: str) -> list[tuple[str | None, str]]:
    """Each ``sh`` block with its skip reason (None: run it)."""
    out = []
    for m in re.finditer(r"(?m)^(?:(<!--[^\n]*-->)\n)?```sh\n(.*?)^```$", text, re.S):
        marker = m.group(1)
        if marker and not SKIP.fullmatch(marker):
            raise AssertionError(f"unknown marker before a sh block: {marker}")
        out.append((SKIP.fullmatch(marker).group(1) if marker else None, m.group(2)))
    return out


def commands(block: str) -> list[Command]:
    """Shell commands of a block: continuation lines and here-documents joined."""
    out: list[Command] = []
    lines = block.splitlines()
    while lines:
        line = lines.pop(0)
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        text = line
        while text.endswith("\\"):
            text += "\n" + lines.pop(0)
        here = re.search(r"<<'(\w+)'", text)
        if here:
            while True:
                more = lines.pop(0)
                text += "\n" + more
                if more == here.group(1):
                    break
        exits = re.search(r"#\s*exits (\d)", text)
        out.append(Command(text, int(exits.group(1)) if exits else None))
    return out


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> list[Command]:
    """Run every runnable command of the tutorial once, in order, in one bash."""
    scratch = tmp_path_factory.mktemp("tutorial")
    shutil.copytree(ROOT / "mocks" / "demo", scratch / "mocks" / "demo")
    for name in ("scripts", ".venv"):  # ./scripts/demo and `source .venv/bin/activate`
        (scratch / name).symlink_to(ROOT / name)
    assert list((ROOT / ".venv").glob(".ccmig-installed*")), "run ./scripts/test once first"
    todo = [c for reason, block in blocks(TUTORIAL.read_text(encoding="utf-8"))
            if reason is None for c in commands(block)]
    script = "".join(f"{c.text}\necho '{MARK}'$? ; echo '{MARK}' >&2\n" for c in todo)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CCMIG_", "VIRTUAL_ENV"))}
    env.update(HOME=str(scratch / "home"), XDG_CONFIG_HOME=str(scratch / "home" / ".config"),
               PATH=f"{ROOT / '.venv' / 'bin'}:{env.get('PATH', '')}", NO_COLOR="1")
    done = subprocess.run(["bash", "--noprofile", "--norc"], input=script, cwd=scratch,
                          env=env, capture_output=True, text=True, timeout=600, check=False)
    outs = done.stdout.split(MARK)
    errs = done.stderr.split(MARK + "\n")
    assert len(outs) == len(todo) + 1, done.stderr[-2000:]
    for i, c in enumerate(todo):
        c.out = outs[i].split("\n", 1)[1] if i else outs[0]
        c.rc = int(outs[i + 1].split("\n", 1)[0])
        c.err = errs[i]  # type: ignore[attr-defined]
    return todo


def find(session: list[Command], start: str) -> Command:
    return next(c for c in session if c.text.startswith(start))


def test_every_block_runs_or_says_why_not():
    found = blocks(TUTORIAL.read_text(encoding="utf-8"))
    assert len([b for reason, b in found if reason is None]) >= 6
    assert all(reason.strip() for reason, _ in found if reason is not None)
    assert sum(len(commands(b)) for reason, b in found if reason is None) >= 14


def test_each_command_exits_as_documented(session):
    for c in session:
        assert "Traceback" not in c.err and "internal error" not in c.err, (c.text, c.err)
        if c.expect is not None:
            assert c.rc == c.expect, (c.text, c.rc, c.err)
        else:
            assert c.rc in (0, 1), (c.text, c.rc, c.err)


def test_demo_section_says_what_the_demo_prints():
    text = TUTORIAL.read_text(encoding="utf-8")
    scratch_free = subprocess.run([str(ROOT / "scripts" / "demo")], capture_output=True,
                                  text=True, timeout=300, check=False,
                                  env={**os.environ, "NO_COLOR": "1"})
    assert scratch_free.returncode == 0  # "The script itself exits 0"
    flat = " ".join(text.split())
    assert "The script itself exits 0" in flat and "say `ccmig exited 1`" in flat
    assert "ccmig exited 1 " in scratch_free.stdout
    sample = text.split("./scripts/demo\n```", 1)[1].split("```\n", 1)[1].split("```")[0]
    lines = [line for line in sample.splitlines() if line.strip() and line.strip() != "..."]
    assert len(lines) >= 4
    for line in lines:
        assert line in scratch_free.stdout.splitlines(), line
    # Every post office the demo's summary shows is one §1 explains.
    section = flat.split("## 1. The demo")[1].split("## 2.")[0]
    summary = scratch_free.stdout.split("By old post office:")[1].split("\n\n")[0]
    shown = {m.group(1) for m in re.finditer(r"(?m)^  (\S+) +\d+ +\d+", summary)}
    assert shown == {"(none)", "HUBPO", "PARTNER", "PO1", "PO2", "PO3", "PO4"}
    assert "HUBPO (the hub) and PO1–PO4" in section and "`EXCH`" in section
    assert "**PARTNER**" in section and "**(none)**" in section


def test_check_shows_message_and_action(session):
    c = find(session, "ccmig check --profile demo 'Wood, Ursula' ")
    assert c.rc == 1 and "awaiting-dirsync (warning):" in c.out and "Do: Run directory" in c.out


def test_report_exit_1_is_explained_as_the_tutorial_quotes(session):
    text = TUTORIAL.read_text(encoding="utf-8")
    quoted = re.search(r"e\.g\. `(ccmig:\s+wrote demo-report\.html; exit 1:[^`]*)`", text)
    assert quoted
    c = find(session, "ccmig report --profile demo -o demo-report.html")
    assert c.rc == 1 and c.err.startswith(" ".join(quoted.group(1).split())), c.err


def test_config_init_after_unset_and_the_first_diff(session):
    c = find(session, "ccmig config init")
    assert c.rc == 0 and c.err == ""  # CCMIG_CONFIG unset first: no warning
    first, second = [c for c in session if c.text.startswith("ccmig diff --record runs")]
    assert first.rc == 2 and "only one run recorded yet — record another to compare" in first.err
    assert second.rc == 0 and "0 changed, 0 added, 0 removed" in second.out
    history = find(session, "ccmig history --record runs")
    assert len(history.out.splitlines()) == 3  # header and the two runs


def test_profile_shown_is_the_one_demo_copy_writes(tmp_path):
    import tomllib

    from tests.orgkit import ccmig

    assert ccmig("demo", "copy", str(tmp_path / "lab"))[0] == 0
    written = tomllib.loads((tmp_path / "lab" / "ccmig.toml").read_text(encoding="utf-8"))
    text = TUTORIAL.read_text(encoding="utf-8")
    shown = text.split("`ccmig.toml` is an ordinary profile file")[1].split("```toml\n")[1]
    assert tomllib.loads(shown.split("```")[0]) == written
