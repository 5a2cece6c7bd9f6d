"""One multimap for the whole toolkit: key -> items, one item stored bare.

Most keys (addresses, names, identities) have one item; a list each would be
~90 bytes x 150,000 at scale. Used by the rules' indexes and by
``--mailbox-stats`` identity resolution.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

_NONE: Any = object()


class Index(dict):  # type: ignore[type-arg]
    """key -> items, read like a ``defaultdict(list)`` (``[key]`` and ``get``
    give lists), but one item is stored bare. Items must not be lists."""

    __slots__ = ()

    def add(self, key: Any, item: Any) -> None:
        have = dict.get(self, key, _NONE)
        if have is _NONE:
            dict.__setitem__(self, key, item)
        elif type(have) is list:
            have.append(item)
        else:
            dict.__setitem__(self, key, [have, item])

    def __getitem__(self, key: Any) -> list[Any]:
        have = dict.get(self, key, _NONE)
        if have is _NONE:
            return []
        return have if type(have) is list else [have]

    def get(self, key: Any, default: Any = None) -> Any:
        have = dict.get(self, key, _NONE)
        if have is _NONE:
            return default
        return have if type(have) is list else [have]

    def several(self) -> Iterator[tuple[Any, list[Any]]]:
        """Every key with more than one item, with them."""
        for key, items in dict.items(self):
            if type(items) is list:
                yield key, items
