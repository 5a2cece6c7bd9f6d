"""ccmig: find, fix and prove the cc:Mail -> Exchange clean-up of KB Q253306.

The audit logic is pure functions over plain data (:mod:`toolkit.rules`);
readers for LDIF, LDAP, PowerShell and cc:Mail directory files are adapters
that produce that data. Runbooks import :func:`toolkit.audit.run_audit`.
"""

import sys

__version__ = "0.1.0"



class _CheckoutMocks:
    """Makes ``toolkit.mocks`` the repository's ``mocks/`` folder when ccmig
    runs from a source checkout that is not installed (``PYTHONPATH=<checkout>
    python3 -m toolkit.mocks.orggen``, the scripts' fallback without a
    virtualenv, ``scripts/ldap-test-server``'s ``python3``), as an install
    maps it (pyproject.toml: package-dir).

    A meta path finder consulted only for that one name, after the usual
    ones: an editable install's finder answers first, and an installed
    toolkit has no ccmig ``pyproject.toml`` beside it, so it finds nothing.
    Everything it needs is imported when it is asked, never at start-up."""

    @staticmethod
    def find_spec(fullname, path=None, target=None):  # type: ignore[no-untyped-def]
        if fullname != "toolkit.mocks":
            return None
        import os
        from importlib.util import spec_from_file_location

        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        mocks = os.path.join(root, "mocks")
        try:
            with open(os.path.join(root, "pyproject.toml"), encoding="utf-8") as fh:
                ours = 'name = "ccmig"' in fh.read()
        except OSError:
            return None
        if not ours or not os.path.isfile(os.path.join(mocks, "__init__.py")):
            return None
        return spec_from_file_location(fullname, os.path.join(mocks, "__init__.py"),
                                       submodule_search_locations=[mocks])


sys.meta_path.append(_CheckoutMocks())
