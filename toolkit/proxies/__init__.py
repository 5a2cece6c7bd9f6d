"""Legacy proxy hygiene (spec: ``ccmig proxies``): a second rule family.

A package of its own, importing only the readers' RawEntry, text folding,
the cc:Mail grammar and directory, and errors, so it can later move into the
rules package by renaming. Modules: ``model`` (values, objects, rows),
``read`` (entries -> objects per dialect), ``settings`` (``--retire``, the
CCMAIL evidence), ``rules`` (the six codes), ``inventory`` (``types``),
``plan`` (``remove-proxy-addresses`` actions), ``run`` (the library calls).
``run`` also uses :mod:`toolkit.parallel` (the audit's rows, range by range,
on two cores).
"""

from toolkit.proxies.run import (
    PreparedAudit,
    ProxyInputs,
    prepare_audit,
    proxies_audit,
    proxies_plan,
    proxies_types,
)

__all__ = ["PreparedAudit", "ProxyInputs", "prepare_audit", "proxies_audit", "proxies_plan",
           "proxies_types"]
