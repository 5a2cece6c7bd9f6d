"""The helpers declared once (issue 13, point 6): one atomic replace with one
durability policy, one printable/one-line cleaner, one status list, one order
of action kinds.

Why a test: each used to exist three to five times with small differences
(one copy fsynced the directory, one not even the file); these pin that every
writer goes through the one helper and that the helper keeps its promises.
"""

from __future__ import annotations

import os
import stat

import pytest

from toolkit import atomic
from toolkit.text import CONTROL, one_line, printable, shorten


def _sync_log(monkeypatch) -> list[str]:
    """Record what gets fsynced: 'file' or 'dir', in order, and each rename."""
    log: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        log.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        return real_fsync(fd)

    def replace(src, dst):
        log.append("replace")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    return log


@pytest.mark.skipif(os.name != "posix", reason="directory fsync is POSIX only")
def test_atomic_write_fsyncs_file_then_renames_then_fsyncs_directory(tmp_path, monkeypatch):
    log = _sync_log(monkeypatch)
    target = tmp_path / "report.csv"
    target.write_bytes(b"old")
    target.chmod(0o640)
    atomic.write_bytes(target, b"new")
    assert log == ["file", "replace", "dir"]
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # the user's mode kept
    assert [p.name for p in tmp_path.iterdir()] == ["report.csv"]  # no temp file left


def test_a_failed_write_leaves_the_target_and_no_temp_file(tmp_path):
    target = tmp_path / "plan.json"
    target.write_text("the old plan", encoding="utf-8")
    fd, tmp = atomic.new_temp(target)
    assert tmp.parent == tmp_path  # beside the target: the rename stays on one file system
    with pytest.raises(RuntimeError), atomic.replacing(target, fd, tmp, encoding="utf-8") as fh:
        fh.write("half a plan")
        raise RuntimeError("killed half-way")
    assert target.read_text(encoding="utf-8") == "the old plan"
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]


@pytest.mark.skipif(os.name != "posix", reason="directory fsync is POSIX only")
@pytest.mark.parametrize("writer", ["output", "record", "ccmail", "config"])
def test_every_kept_file_goes_through_the_one_policy(writer, tmp_path, monkeypatch):
    """-o outputs, run records, cc:Mail rewrites and config init: file and
    directory fsynced around the rename, like every other file the user keeps."""
    from toolkit.cli.common import open_output
    from toolkit.history import record_run
    from toolkit.remediation.ccmail_files import atomic_write

    target = tmp_path / "kept"
    target.write_text("before\n", encoding="utf-8")
    log = _sync_log(monkeypatch)
    if writer == "output":
        with open_output(str(target)) as out:
            out.write("after\n")
    elif writer == "record":
        record_run(tmp_path / "runs", [], {})
    elif writer == "ccmail":
        atomic_write(target, b"after\n")
    else:
        from click.testing import CliRunner

        from toolkit.cli.main import cli

        result = CliRunner().invoke(cli, ["config", "init", "--path", str(target), "--force"])
        assert result.exit_code == 0, result.output
    assert log == ["file", "replace", "dir"]


def test_printable_replaces_every_control_character_and_only_those():
    hostile = "a\x1b[31mb\tc\nd\x7fe\x85f\x9fg"
    assert printable(hostile) == "a\ufffd[31mb\ufffdc\ufffdd\ufffde\ufffdf\ufffdg"
    assert printable("Zoë\u200b at PO1") == "Zoë\u200b at PO1"  # not Cc: kept
    lone = "x\ud800y"
    assert printable(lone) == lone
    assert printable(lone, surrogates=True) == "x\ufffdy"
    assert not CONTROL.search(printable("".join(map(chr, range(0x100)))))


def test_one_line_folds_white_space_hides_secrets_and_cuts():
    assert one_line("bind\n  failed:\tpassword  s3 cr3t rejected", ["s3 cr3t"]) == \
        "bind failed: password *** rejected"
    # a secret with a line break is hidden whether the message keeps it or folds it
    assert one_line("pw=a\nb!", ["a\nb"]) == "pw=***!"
    assert one_line("pw=a b!", ["a\nb"]) == "pw=***!"
    assert one_line("x" * 10, limit=8) == "xxxxx..."
    assert shorten("short", 8) == "short" and shorten("x" * 9, None) == "x" * 9


def test_the_adapters_one_line_failures_use_the_one_cleaner():
    from toolkit.cli.main import _one_line
    from toolkit.exchange.ldaperrors import one_line as ldap_one_line
    from toolkit.exchange.psfailures import one_line as ps_one_line

    assert ps_one_line("a\n b " + "y" * 700, "b") == ("a *** " + "y" * 700)[:597] + "..."
    assert ldap_one_line("('socket connection error while opening: [Errno 111] refused',)",
                         ["refused"]) == "[Errno 111] ***"
    assert _one_line("bad\nvalue \x1b[2J") == "bad value \ufffd[2J"


def test_the_status_list_and_the_action_order_are_declared_once():
    from toolkit.remediation import apply, plan
    from toolkit.render import report, table
    from toolkit.rules import STATUSES

    assert report.STATUSES is STATUSES and table.STATUSES is STATUSES
    assert apply.KIND_ORDER is plan.KIND_ORDER
    assert [k for k in plan.KINDS if k in plan.APPLIABLE] == list(plan.APPLIABLE)
    assert sorted(plan.APPLIABLE, key=plan.KIND_ORDER.get) == list(plan.APPLIABLE)
