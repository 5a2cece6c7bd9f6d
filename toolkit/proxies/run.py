"""``ccmig proxies`` as library calls: inputs in, rows out.

The CLI (:mod:`toolkit.cli.proxies`) and runbooks call these; where the
entries come from (LDIF, LDAP, a test's list) is the caller's choice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from toolkit import parallel
from toolkit.ccmail.directory import DirectoryLayer
from toolkit.model import RawEntry
from toolkit.proxies.inventory import type_rows
from toolkit.proxies.model import ProxyObject, ProxyRow, TypeRow
from toolkit.proxies.plan import ProxyPlan, check_dialect, make_proxy_plan
from toolkit.proxies.read import AD, read_objects
from toolkit.proxies.rules import Context, Rule, active_rules, evaluate, rows_between
from toolkit.proxies.settings import ProxySettings, make_settings


@dataclass(frozen=True)
class ProxyInputs:
    """What ``proxies types``/``audit`` read.

    ``source`` yields the directory's entries (called once per run);
    ``directory`` is the ``--ccmail-dir`` layer, None when no export was given;
    ``policies`` reads the email address policies (policy name -> the types
    its enabled templates generate; ``--exchange-uri``), None when they are
    not read. Both are called only after the inputs were validated.
    """

    source: Callable[[], Iterable[RawEntry]]
    dialect: str = AD
    directory: DirectoryLayer | None = None
    retire: tuple[str, ...] = ()
    ccmail_decommissioned: bool = False
    max_values: int | None = None
    policies: Callable[[], Mapping[str, Iterable[str]]] | None = None

    def settings(self, need_evidence: bool) -> ProxySettings:
        entries = self.directory.entries() if self.directory is not None else None
        return make_settings(self.retire, entries, self.ccmail_decommissioned, self.max_values,
                             need_evidence)

    def objects(self) -> list[ProxyObject]:
        return list(read_objects(self.source(), self.dialect))


def proxies_audit(inputs: ProxyInputs) -> list[ProxyRow]:
    """``ccmig proxies audit``: rows sorted by key. Inputs are validated
    (``--retire``, the CCMAIL evidence) before the directory is read."""
    settings = inputs.settings(need_evidence=True)
    return evaluate(inputs.objects(), settings)


P = TypeVar("P")

#: Objects a range: ~190 ranges at 100,000 people. Small enough that the
#: process finishing first waits little for the other's last range (~15 ms),
#: and that a range's text (~0.7 MB of JSON or CSV) fits in the answer pipe
#: (1 MiB, :mod:`toolkit.parallel`), so the worker goes on to its next range at once.
RANGE = 500


@dataclass(frozen=True)
class PreparedAudit:
    """``proxies audit`` read and indexed (:meth:`Context.build`), its rows not
    made yet: :meth:`map_ranges` makes them range by range on two cores.

    Why: the rules and the rendering of their rows were ~40% of a
    ``proxies audit`` (py-spy, 100,000 people) and are independent per object
    once the context exists, while passing rows (or objects) between
    processes costs ~5 times making them. So the worker, forked after the
    context was built, inherits it, and only the rendered text of each range
    crosses back. Measured at 100,000 people (JSON): the stage's CPU, 2.5-2.7 s
    in one process, became 1.6-1.7 s in the parent and 1.6-1.7 s in the
    worker (each takes about half the ranges; the extra is mostly
    copy-on-write faults: the worker touches objects all over the heap).
    """

    context: Context
    rules: tuple[Rule, ...]

    def rows(self) -> list[ProxyRow]:
        """Every row, in one process: :func:`proxies_audit`'s."""
        return rows_between(self.context, self.rules, 0, len(self.context.objects))

    def map_ranges(self, func: Callable[[list[ProxyRow]], P]) -> Iterator[P]:
        """``func`` of the rows of each range of :data:`RANGE` objects, in
        order (one range, with no rows, when there are no objects), computed
        through :func:`toolkit.parallel.ordered_map`: ``func`` must be pure
        and its results must pickle compactly (text, small tuples)."""
        ctx, rules = self.context, self.rules
        n = len(ctx.objects)
        ranges = [(start, min(start + RANGE, n)) for start in range(0, n, RANGE)] or [(0, 0)]

        def evaluate_range(bounds: tuple[int, int]) -> P:
            return func(rows_between(ctx, rules, *bounds))

        if len(ranges) == 1:  # nothing to share: no worker forked
            return map(evaluate_range, ranges)
        return parallel.ordered_map(evaluate_range, ranges)


def prepare_audit(inputs: ProxyInputs) -> PreparedAudit:
    """:func:`proxies_audit` up to its rules: inputs validated, the directory
    read, the context built (the CLI renders with ``map_ranges``)."""
    settings = inputs.settings(need_evidence=True)
    return PreparedAudit(Context.build(inputs.objects(), settings), active_rules(settings))


def proxies_types(inputs: ProxyInputs,
                  policies: Mapping[str, Iterable[str]] | None = None) -> list[TypeRow]:
    """``ccmig proxies types``. ``policies``: policy name -> upper-case types its
    enabled templates generate (``Get-EmailAddressPolicy``, with
    ``--exchange-uri``); None: ``inputs.policies`` says (None when not read)."""
    settings = inputs.settings(need_evidence=False)
    if policies is None and inputs.policies is not None:
        policies = inputs.policies()
    return type_rows(inputs.objects(), settings.retired, inputs.dialect == AD, policies)


def proxies_plan(inputs: ProxyInputs, record: dict[str, Any],
                 policies: Mapping[str, Iterable[str]] | None = None) -> ProxyPlan:
    """``ccmig proxies plan``: ``record`` is the plan's ``inputs`` (how apply
    reads the same organisation again; the rule inputs are added here)."""
    check_dialect(inputs.dialect)
    settings = inputs.settings(need_evidence=True)
    if policies is None and inputs.policies is not None:
        policies = inputs.policies()
    record = {**record, "retire": sorted(settings.retired),
              "ccmail_decommissioned": inputs.ccmail_decommissioned,
              "max_values": inputs.max_values, "policies_checked": policies is not None}
    return make_proxy_plan(inputs.objects(), settings, inputs.dialect, record, policies)
