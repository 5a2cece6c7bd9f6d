"""The organisation generator's driver: draws the people and runs both sides.

Why the parts are separate objects sharing one seeded Random: the draws must
come in the same order for a seed, whoever makes them, while each part stays
small and about one thing: :class:`~toolkit.mocks.orggen.identities.Identities`
(unique names, accounts, DNs), :class:`~toolkit.mocks.orggen.exchange.ExchangeSide`
(the LDIF and the stats file), :class:`~toolkit.mocks.orggen.background.Background`
(objects that are not people), :class:`~toolkit.mocks.orggen.ccmail.CcmailSide`
(the cc:Mail directory files) and :class:`~toolkit.mocks.orggen.builders.ScenarioBuilder`
(what each scenario's person gets). :class:`OrgGenerator` opens the files,
schedules the scenarios, and writes the summary, ``expected-codes.json``'s head
and the README.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from random import Random
from typing import Any

from toolkit.mocks.orggen.background import Background
from toolkit.mocks.orggen.builders import ScenarioBuilder
from toolkit.mocks.orggen.ccmail import CcmailSide
from toolkit.mocks.orggen.exchange import ExchangeSide
from toolkit.mocks.orggen.identities import Identities
from toolkit.mocks.orggen.records import Settings, Summary
from toolkit.mocks.orggen.scenarios import AD, EX55, Scenario, applicable
from toolkit.mocks.orggen.writers import CcmailWriter, ExpectedWriter, LdifWriter


class OrgGenerator:
    """Draws people and writes both sides of the organisation as it goes."""

    def __init__(self, settings: Settings, out: Path, command: str | None = None) -> None:
        settings.validate()
        self.s = settings
        self.out = out
        self.command = command
        self.rng = Random(settings.seed)
        self.ad = settings.dialect == AD
        self.summary = Summary()
        self.ids = Identities(settings, self.rng)

    # ---- driving ---------------------------------------------------------

    def run(self) -> Summary:
        started = time.perf_counter()
        s = self.s
        ccdir = self.out / "ccmail"
        ccdir.mkdir(parents=True, exist_ok=True)
        self.ldif = LdifWriter(self.out / "org.ldif", utf16=s.utf16, crlf=s.crlf)
        self.cc = {
            po: CcmailWriter(ccdir / f"{po}.txt", po, encoding=s.ccmail_encoding, crlf=s.crlf)
            for po in s.ccmail_pos
        }
        self.stats_fh = (self.out / "stats.csv").open("w", encoding="utf-8", newline="")
        self.expected = ExpectedWriter(self.out / "expected-codes.json", self._head())
        ex = ExchangeSide(self.ids, self.summary, self.ldif, self.expected, self.stats_fh)
        background = Background(self.ids, ex)
        ccmail = CcmailSide(self.ids, self.cc, self.expected)
        builder = ScenarioBuilder(self.ids, ex, background, ccmail)
        try:
            ex.header()
            ccmail.post_office_entries()
            ex.structure()
            for i, scenario in enumerate(self._schedule()):
                self.ids.person_index = i
                self.summary.scenarios[scenario.name] = (
                    self.summary.scenarios.get(scenario.name, 0) + 1
                )
                builder.build(scenario.name)
                background.periodic(i + 1)
            self.summary.people = s.people
            self.ldif.comment("")
            self.ldif.comment(f"numEntries: {self.ldif.entries}")
        finally:
            self.ldif.close()
            for writer in self.cc.values():
                writer.close()
            self.stats_fh.close()
        if not s.stats:
            (self.out / "stats.csv").unlink()
        self.summary.ldif_entries = self.ldif.entries
        self.summary.ccmail_entries = {
            po: dict(sorted(w.counts.items())) for po, w in self.cc.items()
        }
        self.summary.seconds = round(time.perf_counter() - started, 3)
        summary = asdict(self.summary)
        del summary["seconds"]  # keeps the file deterministic
        self.expected.close(summary)
        self._readme()
        return self.summary

    def _schedule(self) -> Iterator[Scenario]:
        """Every applicable scenario once (if room), the rest drawn by weight."""
        pool = applicable(self.s.dialect, len(self.s.exchange_pos))
        n = self.s.people
        required = pool[: min(n, len(pool))]
        self.rng.shuffle(required)
        slots = self.rng.sample(range(n), len(required))
        positions = dict(zip(slots, required, strict=True))
        cum: list[float] = []
        total = 0.0
        for sc in pool:
            total += sc.weight
            cum.append(total)
        for i in range(n):
            fixed = positions.get(i)
            yield fixed if fixed is not None else self.rng.choices(pool, cum_weights=cum)[0]

    # ---- metadata --------------------------------------------------------

    def _head(self) -> dict[str, Any]:
        s = self.s
        settings = asdict(s)
        settings["exchange_pos"] = list(s.exchange_pos)
        pool = applicable(s.dialect, len(s.exchange_pos))
        return {
            "format": 1,
            "generator": "mocks/orggen",
            "settings": settings,
            "ccmail_pos": s.ccmail_pos,
            "scenarios": {sc.name: {"code": sc.code, "description": sc.description}
                          for sc in pool},
            "note": ("'code' is the finding code each object was built to show (complete: "
                     "none; null: no row expected); other findings may come with it."),
        }

    def audit_command(self) -> list[str]:
        out = str(self.out)
        cmd = ["ccmig", "audit", "--ldif", f"{out}/org.ldif"]
        if not self.ad:
            cmd += ["--dialect", EX55]
        for po in self.s.ccmail_pos:
            cmd += ["--ccmail-dir", f"{out}/ccmail/{po}.txt"]
        for site in self.s.exchange_pos:
            cmd += ["--exchange-po", site]
        if self.s.stats:
            cmd += ["--mailbox-stats", f"{out}/stats.csv"]
        return cmd

    def _readme(self) -> None:
        s = self.s
        sm = self.summary
        lines = [
            "Synthetic cc:Mail -> Exchange organisation (KB Q253306), made by mocks/orggen.",
            "Not a real directory: every name, address and count is invented.",
            "",
            "Made with:",
            "  " + (self.command or "python -m toolkit.mocks.orggen ..."),
            "",
            "Audit it with:",
            "  " + shlex.join(self.audit_command()),
            "",
            "Files:",
            f"  org.ldif             Exchange side, {s.dialect} dialect, "
            + ("UTF-16 LE with BOM (ldifde -u)" if s.utf16 else "ASCII/UTF-8, base64 for the rest"),
            f"  ccmail/<PO>.txt      one cc:Mail directory per post office ({s.ccmail_encoding}"
            + (", CRLF)" if s.crlf else ")"),
        ]
        if s.stats:
            lines.append("  stats.csv            identity,item_count for most mailboxes")
        lines += [
            "  expected-codes.json  the scenario and intended finding code of every object",
            "",
            f"People: {sm.people}; Exchange PO(s): {', '.join(s.exchange_pos)}; "
            f"cc:Mail POs: {', '.join(s.ccmail_pos)}",
            "Scenarios drawn:",
        ]
        lines += [f"  {n:6d}  {name}" for name, n in sorted(sm.scenarios.items())]
        lines.append("")
        (self.out / "README").write_text("\n".join(lines), encoding="utf-8")


def generate(settings: Settings, out: Path, command: str | None = None) -> Summary:
    """Write an organisation into ``out`` (created if needed) and return its summary."""
    out.mkdir(parents=True, exist_ok=True)
    return OrgGenerator(settings, out, command).run()
