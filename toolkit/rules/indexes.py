"""The hash maps the rules look partners up in (spec: every cross-object
rule goes through one of them, so the audit is linear in the directory).

Index values are positions in the analysis's recipients list (see
:mod:`toolkit.rules.facts`): small ints the indexes share.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from toolkit.multimap import Index

Key = tuple[str, str]  # a folded cc:Mail address: (folded name, folded PO)

__all__ = ["AddressIndex", "Index", "Key"]

_NOTHING: dict[str, Any] = {}  # AddressIndex.at of a PO with no address


class AddressIndex:
    """(folded name, folded PO) -> items, read like :class:`Index`, stored as
    one Index of folded names per PO: the names are strings the values'
    keys already hold, so the 150,000 keys cost no tuple each (~8 MB)."""

    __slots__ = ("_by_po",)

    def __init__(self) -> None:
        self._by_po: dict[str, Index] = {}

    def add(self, key: Key, item: Any) -> None:
        names = self._by_po.get(key[1])
        if names is None:
            names = self._by_po[key[1]] = Index()
        # Index.add written out (the index pass adds ~150,000 keys)
        have = dict.get(names, key[0])
        if have is None:
            dict.__setitem__(names, key[0], item)
        elif have.__class__ is list:
            have.append(item)
        else:
            dict.__setitem__(names, key[0], [have, item])

    def add_keys(self, keys: Iterable[Key], item: Any) -> None:
        """:meth:`add` of each of ``keys`` (distinct) with ``item``: one call
        an object in the index pass, not one a key."""
        by_po = self._by_po
        for name, po in keys:
            names = by_po.get(po)
            if names is None:
                names = by_po[po] = Index()
            have = dict.get(names, name)
            if have is None:
                dict.__setitem__(names, name, item)
            elif have.__class__ is list:
                have.append(item)
            else:
                dict.__setitem__(names, name, [have, item])

    def at(self, po: str) -> dict[str, Any]:
        """Folded name -> items at folded PO ``po``, read raw (one item bare,
        several a list; do not change it): a pass over many names at few POs
        looks each up without a call or a list."""
        return self._by_po.get(po) or _NOTHING

    def __getitem__(self, key: Key) -> list[Any]:
        names = self._by_po.get(key[1])
        return [] if names is None else names[key[0]]

    def get(self, key: Key, default: Any = None) -> Any:
        names = self._by_po.get(key[1])
        return default if names is None else names.get(key[0], default)

    def __contains__(self, key: object) -> bool:
        if type(key) is not tuple or len(key) != 2:
            return False
        names = self._by_po.get(key[1])
        return names is not None and dict.__contains__(names, key[0])

    def __len__(self) -> int:
        return sum(len(names) for names in self._by_po.values())

    def shared(self) -> Iterator[tuple[Key, list[Any]]]:
        """Every key on several items, with them."""
        for po, names in self._by_po.items():
            for name, items in names.several():
                yield (name, po), items
