"""ccmig: find, fix and prove the cc:Mail -> Exchange clean-up of KB Q253306.

The audit logic is pure functions over plain data (:mod:`toolkit.rules`);
readers for LDIF, LDAP, PowerShell and cc:Mail directory files are adapters
that produce that data. Runbooks import :func:`toolkit.audit.run_audit`.
"""

__version__ = "0.1.0"


def _checkout_mocks() -> None:
    """Make ``toolkit.mocks`` the repository's ``mocks/`` folder when ccmig runs
    from a source checkout that is not installed (``PYTHONPATH=<checkout>
    python3 -m toolkit.mocks.orggen``, the scripts' fallback without a
    virtualenv), as an install maps it (pyproject.toml: package-dir).

    An installed toolkit has no ccmig ``pyproject.toml`` beside it, so nothing
    changes there; an editable install's own finder comes first and maps the
    same folder."""
    import sys
    from importlib.abc import MetaPathFinder
    from importlib.util import spec_from_file_location
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    mocks = root / "mocks"
    try:
        ours = (mocks / "__init__.py").is_file() and 'name = "ccmig"' in (
            root / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return
    if not ours:
        return

    class _CheckoutMocks(MetaPathFinder):
        @staticmethod
        def find_spec(fullname, path=None, target=None):  # type: ignore[no-untyped-def]
            if fullname != "toolkit.mocks":
                return None
            return spec_from_file_location(fullname, mocks / "__init__.py",
                                           submodule_search_locations=[str(mocks)])

    sys.meta_path.append(_CheckoutMocks())


_checkout_mocks()
