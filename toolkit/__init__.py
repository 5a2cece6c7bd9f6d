"""ccmig: find, fix and prove the cc:Mail -> Exchange clean-up of KB Q253306.

The audit logic is pure functions over plain data (:mod:`toolkit.rules`);
readers for LDIF, LDAP, PowerShell and cc:Mail directory files are adapters
that produce that data. Runbooks import :func:`toolkit.audit.run_audit`.
"""

__version__ = "0.1.0"
