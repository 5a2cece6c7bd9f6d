"""Synthetic organisation generator: both sides of a half-finished cc:Mail migration.

Why this exists: nobody can hand us a real directory of a company caught in the
middle of the Q253306 clean-up, and a handful of hand-written fixtures would only
ever test the cases their author thought of. This module builds one from a seed:
an Exchange export (LDIF, Active Directory or Exchange 5.5 dialect) plus one
cc:Mail directory file per post office, a mailbox statistics CSV, and a key
(``expected-codes.json``) saying which lifecycle scenario every object was made
for. Every person is drawn from a weighted list of :data:`SCENARIOS` that
covers each state of the KB lifecycle and each finding code of ``spec.md``.

The files are written the way the real tools wrote them (``version: 1``,
comments, lines folded at 76 characters, base64 for anything that is not an
LDIF SAFE-STRING, optional UTF-16 LE with a BOM as ``ldifde -u`` writes; DOS
code page 850 for cc:Mail Export files), because the readers must survive the
real thing, not a tidy imitation.

Output is streamed object by object (no giant strings, no list of every
entry): 200,000 people take about half a minute in ~130 MB, most of it the sets
that keep names unique. It is byte-for-byte deterministic for a seed (set
iteration order never reaches the output).

``expected-codes.json`` holds ``settings``, the ``scenarios`` table (name ->
intended code and description), one ``objects`` line per Exchange object and
per cc:Mail user entry of interest (``key`` as in the audit's rows, ``dn``,
``kind`` (``mailbox``/``custom-recipient``/``group``/``ccmail-user``/
``not-recipient``), ``scenario``, ``role``, ``code``: the finding code the object
was built to show, ``complete`` for none, ``null`` for no row), and a
``summary`` of counts. The codes are intentions, not the full expected rows:
a stale mailbox may also be ``unconfirmed-migration``; the rule engine decides.

Usage::

    python -m toolkit.mocks.orggen OUT --people 300 --seed 7 [--dialect exchange55]
    scripts/make-org OUT ...

or from Python: ``generate(Settings(people=300, seed=7), Path("OUT"))``.

This package's ``__init__`` holds the public names (``__main__`` runs
:func:`main`); the code is in modules named after what they hold, each importing only from those above it:

- :mod:`~toolkit.mocks.orggen.scenarios`: the scenarios table, :data:`FILE_CODES`
- :mod:`~toolkit.mocks.orggen.names`: name pools, :func:`ascii_fold`, :func:`escape_rdn`
- :mod:`~toolkit.mocks.orggen.writers`: the LDIF, cc:Mail and ``expected-codes.json`` writers
- :mod:`~toolkit.mocks.orggen.records`: :class:`Settings`, :class:`Person`,
  :class:`Account`, :class:`Summary`
- :mod:`~toolkit.mocks.orggen.identities`: the shared draws; unique names, accounts, DNs
- :mod:`~toolkit.mocks.orggen.exchange`: the Exchange objects and the stats file
- :mod:`~toolkit.mocks.orggen.background`: the objects that are not people
- :mod:`~toolkit.mocks.orggen.ccmail`: the cc:Mail directory entries
- :mod:`~toolkit.mocks.orggen.builders`: one builder per scenario
- :mod:`~toolkit.mocks.orggen.generator`: :class:`OrgGenerator` and :func:`generate`
- :mod:`~toolkit.mocks.orggen.cli`: :func:`build_parser` and :func:`main`
"""

from __future__ import annotations

from toolkit.mocks.orggen.cli import OWNED, build_parser, main
from toolkit.mocks.orggen.generator import OrgGenerator, generate
from toolkit.mocks.orggen.names import (
    COMMENTS,
    DEPARTMENTS,
    FEATURED,
    GIVEN,
    INITIALS,
    SURNAMES,
    CcValue,
    ascii_fold,
    at,
    escape_rdn,
)
from toolkit.mocks.orggen.records import Account, Person, Settings, Summary
from toolkit.mocks.orggen.scenarios import (
    AD,
    AD_ONLY,
    BOTH,
    EX55,
    EX55_ONLY,
    FILE_CODES,
    SCENARIO_BY_NAME,
    SCENARIOS,
    Scenario,
    applicable,
)
from toolkit.mocks.orggen.writers import LDIF_WIDTH, CcmailWriter, ExpectedWriter, LdifWriter

__all__ = [
    "AD", "AD_ONLY", "BOTH", "COMMENTS", "DEPARTMENTS", "EX55", "EX55_ONLY", "FEATURED",
    "FILE_CODES", "GIVEN", "INITIALS", "LDIF_WIDTH", "OWNED", "SCENARIOS", "SCENARIO_BY_NAME",
    "SURNAMES", "Account", "CcValue", "CcmailWriter", "ExpectedWriter", "LdifWriter",
    "OrgGenerator", "Person", "Scenario", "Settings", "Summary", "applicable", "ascii_fold",
    "at", "build_parser", "escape_rdn", "generate", "main",
]

