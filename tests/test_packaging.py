"""Install layout (issue 13.7): what `pip install ccmig` puts on a user's path.

The test doubles live in the repository's mocks/ folder but must install as
``toolkit.mocks``: a generic top-level ``mocks`` package would shadow the one
many test suites have. pyproject.toml lists the packages explicitly (setuptools
cannot find a package mapped from another folder), so a package added without
updating that list would silently be missing from the wheel: this test fails then.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _tree_packages() -> set[str]:
    found = {"toolkit"}
    for folder, prefix in ((ROOT / "toolkit", "toolkit"), (ROOT / "mocks", "toolkit.mocks")):
        for init in folder.rglob("__init__.py"):
            rel = init.parent.relative_to(folder)
            found.add(prefix if rel == Path(".") else f"{prefix}.{'.'.join(rel.parts)}")
    return found


def test_every_package_in_the_tree_is_installed_and_no_top_level_mocks():
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    tools = conf["tool"]["setuptools"]
    assert set(tools["packages"]) == _tree_packages()
    assert all(p == "toolkit" or p.startswith("toolkit.") for p in tools["packages"])
    assert tools["package-dir"] == {"toolkit.mocks": "mocks"}
    assert conf["project"]["entry-points"]["pytest11"] == {"ccmig": "toolkit.mocks.pytest_plugin"}


def test_the_plugin_loads_light_and_defines_only_its_own_fixtures():
    import subprocess
    import sys

    code = ("import sys, toolkit.mocks.pytest_plugin as p; "
            "print(sorted(m for m in sys.modules if m.startswith(('toolkit.', 'ldap3', 'pypsrp'))));"
            "print(sorted(n for n in vars(p) if not n.startswith('_') "
            "and n not in ('annotations', 'pytest', 'TYPE_CHECKING')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT).stdout.splitlines()
    assert out[0] == "['toolkit.mocks', 'toolkit.mocks.pytest_plugin']"
    fixtures = eval(out[1])  # a printed list of names
    assert fixtures and all(name.startswith("ccmig_") for name in fixtures)


def test_the_fixture_reaches_a_suite_through_the_entry_point():
    """An installed ccmig hands its fixture to a suite that asks for nothing."""
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "test_user.py").write_text(
            "def test_it(ccmig_ccmail_directory):\n"
            "    assert [e.name for e in ccmig_ccmail_directory.entries()] == ['EXCH']\n")
        run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", tmp],
                             capture_output=True, text=True, cwd=tmp)
    assert run.returncode == 0, run.stdout + run.stderr


def test_a_checkout_that_is_not_installed_finds_the_test_doubles(tmp_path):
    """The scripts' fallback without a virtualenv (``PYTHONPATH=<checkout>
    python3 -m toolkit.mocks...``, and ``scripts/ldap-test-server``'s own
    ``python3`` shebang) must find ``toolkit.mocks`` as an install would.
    ``-S`` leaves out site-packages, so no editable install can help."""
    import subprocess
    import sys

    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    code = "import toolkit.mocks.orggen as g, toolkit.mocks.slapd.server as s; print(g.__file__)"
    done = subprocess.run([sys.executable, "-S", "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()) == ROOT / "mocks" / "orggen" / "__init__.py"
    script = subprocess.run([sys.executable, "-S", str(ROOT / "scripts" / "ldap-test-server"),
                             "--help"], cwd=tmp_path, env={"PATH": "/usr/bin:/bin"},
                            capture_output=True, text=True, timeout=60)
    assert script.returncode == 0, script.stderr
    assert "ldap-test-server" in script.stdout
