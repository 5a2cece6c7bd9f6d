"""Windows-specific code paths, with the platform mocked (CI runs on Linux)."""

from __future__ import annotations

import os
import sys
import types

import pytest

from toolkit import atomic
from toolkit.errors import InputError
from toolkit.remediation import ccmail_files, journal


def test_lock_uses_msvcrt_on_windows(tmp_path, monkeypatch):
    calls = []
    fake = types.SimpleNamespace(LK_NBLCK=2, locking=lambda fd, mode, n: calls.append((mode, n)))
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setitem(sys.modules, "msvcrt", fake)
    with journal.exclusive_lock(tmp_path / "j"):
        pass
    assert calls == [(2, 1)]

    def busy(fd, mode, n):
        raise OSError("locked")

    monkeypatch.setitem(sys.modules, "msvcrt", types.SimpleNamespace(LK_NBLCK=2, locking=busy))
    with pytest.raises(InputError, match="holds the lock"), journal.exclusive_lock(tmp_path / "j"):
        pass


def test_atomic_write_without_directory_fsync_on_windows(tmp_path, monkeypatch):
    monkeypatch.setattr(atomic, "POSIX", False)
    opened = []
    real_open = os.open

    def no_directory(path, flags, *args, **kwargs):  # the temp file itself is opened
        if os.path.isdir(path):
            return opened.append(path)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", no_directory)
    target = tmp_path / "po1.txt"
    target.write_bytes(b"old")
    ccmail_files.atomic_write(target, b"new")
    assert target.read_bytes() == b"new" and opened == []
