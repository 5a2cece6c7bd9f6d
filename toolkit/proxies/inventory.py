"""``ccmig proxies types``: values per address type (spec: ``ccmig proxies types``).

The admin's first question before retiring anything: which types exist, on
how many objects, how many are primaries - and (with ``--exchange-uri``,
later) which email address policies still generate them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from toolkit.proxies.model import ProxyObject, TypeRow, value_type


def policy_types(policies: Iterable[tuple[str, Iterable[str]]]) -> dict[str, tuple[str, ...]]:
    """Policy name -> the sorted types its *enabled* templates generate.

    ``policies`` are (name, enabled templates as ``TYPE:template``), e.g. from
    ``Get-EmailAddressPolicy``; a type is read as a value's type is (the text
    before the first ``:``, ASCII upper-cased), so ``ccmail:`` and ``CCMAIL:``
    templates name the same type. A disabled template generates nothing.
    """
    out: dict[str, tuple[str, ...]] = {}
    for name, enabled in policies:
        kinds = {k for t in enabled if (k := value_type(t)) is not None}
        out[name] = tuple(sorted(kinds | set(out.get(name, ()))))
    return out


def type_rows(objects: Iterable[ProxyObject], retired: Iterable[str], case_says_primary: bool,
              policies: Mapping[str, Iterable[str]] | None = None) -> list[TypeRow]:
    """One row per type, sorted by type (values with no type under ``""``).

    ``retired`` types get a row even with zero counts. ``policies`` (policy
    name -> the types its enabled templates generate; None when policies
    were not read) fills the ``policies`` column, and a type only a policy
    names gets a row too. ``case_says_primary`` is False in the 5.5 dialect:
    ``primaries`` is then None.
    """
    counts: dict[str, list[int]] = {}  # type -> [objects, values, primaries]
    for obj in objects:
        seen: set[str] = set()
        for v in obj.values:
            kind = v.type or ""
            c = counts.get(kind)
            if c is None:
                counts[kind] = c = [0, 0, 0]
            c[1] += 1
            c[2] += v.primary
            if kind not in seen:
                seen.add(kind)
                c[0] += 1
    retired = frozenset(retired)
    for kind in retired:
        counts.setdefault(kind, [0, 0, 0])
    generated: dict[str, set[str]] = {}
    if policies is not None:
        for name, kinds in policies.items():
            for kind in kinds:
                generated.setdefault(kind, set()).add(name)
                counts.setdefault(kind, [0, 0, 0])
    return [
        TypeRow(kind, c[0], c[1], c[2] if case_says_primary else None, kind in retired,
                None if policies is None else tuple(sorted(generated.get(kind, ()))))
        for kind, c in sorted(counts.items())
    ]
