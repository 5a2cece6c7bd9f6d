"""The finding rules of spec.md, as pure functions over plain data.

``analyse(recipients, entries, exchange_pos, dialect)`` -> :class:`Analysis`
(its ``rows`` sorted by key); ``evaluate(...)`` -> the rows as a list.

Where things are (a stranger finds any rule in under a minute):

- :mod:`toolkit.rules.codes` - the finding table's rows: code, severity, the
  object kinds each applies to, in the table's order; ``STATUSES``.
- :mod:`toolkit.rules.table` - one function per code, in the table's order,
  each with its whole predicate and its message.
- :mod:`toolkit.rules.facts` - what is known about one object (primary, old
  addresses, cc:Mail name, stale entries) and the named relations between
  objects (stale entries, orphan pairs, routes to Exchange), built in one pass.
- :mod:`toolkit.rules.indexes` - the hash maps partners are looked up in.
- :mod:`toolkit.rules.indexpass` - the pass that builds them and each
  object's gates (its recipients' half fed while the directory is read).
- :mod:`toolkit.rules.rows` - which rows exist, ``route``, ``old_post_office``,
  and the row sequence.
"""

from toolkit.rules.codes import CODES, SEVERITY, SEVERITY_RANK, STATUSES, TABLE, Code
from toolkit.rules.facts import (
    Context,
    Facts,
    FactsView,
    entry_order,
    entry_text,
    facts_of,
    stale_entries,
)
from toolkit.rules.indexes import AddressIndex, Index, Key
from toolkit.rules.indexpass import IndexFeed, build_context
from toolkit.rules.rows import Analysis, Rows, analyse, evaluate
from toolkit.rules.table import RULES, findings_of

__all__ = [
    "CODES", "RULES", "SEVERITY", "SEVERITY_RANK", "STATUSES", "TABLE", "AddressIndex",
    "Analysis", "Code", "Context", "Facts", "FactsView", "Index", "IndexFeed", "Key", "Rows",
    "analyse",
    "build_context", "entry_order", "entry_text", "evaluate", "facts_of", "findings_of",
    "stale_entries",
]
