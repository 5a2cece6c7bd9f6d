"""The command line of the organisation generator (``python -m toolkit.mocks.orggen``,
``scripts/make-org``): flags to :class:`~toolkit.mocks.orggen.records.Settings`,
then :func:`~toolkit.mocks.orggen.generator.generate`.

Why it refuses a folder that is not empty: files of an earlier organisation (the
cc:Mail file of a post office the new one lacks, a ``stats.csv`` that
``--no-stats`` would leave behind) would mix into the new one; ``--force``
removes only the files a run writes (:data:`OWNED` and ``ccmail/*.txt``).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from toolkit.mocks.orggen.generator import generate
from toolkit.mocks.orggen.records import Settings
from toolkit.mocks.orggen.scenarios import AD, EX55

OWNED = ("org.ldif", "stats.csv", "README", "expected-codes.json")


def _prepare(out: Path, force: bool) -> None:
    """Refuse to mix a new organisation into an old one; ``--force`` clears ours only."""
    if not out.exists():
        return
    if not any(out.iterdir()):
        return
    if not force:
        raise FileExistsError(f"{out} is not empty (use --force to replace its files)")
    for name in OWNED:
        (out / name).unlink(missing_ok=True)
    for path in sorted((out / "ccmail").glob("*.txt")) if (out / "ccmail").is_dir() else []:
        path.unlink()


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m toolkit.mocks.orggen",
        description="Generate a synthetic cc:Mail -> Exchange organisation (LDIF + cc:Mail "
        "directory files + mailbox stats) in which every migration scenario occurs.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="""\
output layout:
  OUT/org.ldif              Exchange side (--dialect), ldifde/ldapsearch style
  OUT/ccmail/<PO>.txt       one cc:Mail directory per post office (HUBPO, PO1..POK)
  OUT/stats.csv             identity,item_count (unless --no-stats)
  OUT/expected-codes.json   scenario and intended finding code of every object
  OUT/README                how it was made and the ccmig command that audits it

example:
  scripts/make-org /tmp/org --people 2000 --seed 7
  ccmig audit --ldif /tmp/org/org.ldif --ccmail-dir /tmp/org/ccmail/HUBPO.txt ... \\
      --exchange-po EXCH --mailbox-stats /tmp/org/stats.csv
""",
    )
    ap.add_argument("out", type=Path, help="output directory (ORG)")
    ap.add_argument("-n", "--people", type=int, default=300, help="number of people (300)")
    ap.add_argument("--seed", type=int, default=1, help="random seed (1)")
    ap.add_argument("--dialect", choices=(AD, EX55), default=AD)
    ap.add_argument("--post-offices", type=int, default=4, metavar="K",
                    help="cc:Mail post offices PO1..POK besides the hub (4)")
    ap.add_argument("--hub", default="HUBPO", help="hub post office name (HUBPO)")
    ap.add_argument("--exchange-po", action="append", metavar="NAME",
                    help="Exchange site cc:Mail PO name; repeat for more sites (EXCH)")
    ap.add_argument("--two-sites", action="store_true", help="shorthand: EXCH and EXCH2")
    ap.add_argument("--utf16", action="store_true",
                    help="write the LDIF as UTF-16 LE with BOM and CRLF, as 'ldifde -u'")
    ap.add_argument("--ccmail-encoding", choices=("cp850", "utf-8", "utf-8-sig"),
                    default="cp850", help="cc:Mail file encoding (cp850, as DOS Export)")
    ap.add_argument("--crlf", action="store_true", help="CRLF line ends (LDIF and cc:Mail)")
    ap.add_argument("--no-stats", action="store_true", help="do not write stats.csv")
    ap.add_argument("--annotate", action="store_true",
                    help="comment each LDIF object with its scenario (hand-checkable demos)")
    ap.add_argument("--domain", default="corp.example", help="AD DNS domain (corp.example)")
    ap.add_argument("--force", action="store_true", help="replace files of an earlier run")
    ap.add_argument("-q", "--quiet", action="store_true")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """Generate from the flags; bad settings or a folder in use exit 2, as argparse does."""
    ap = build_parser()
    args = ap.parse_args(argv)
    sites = args.exchange_po or (["EXCH", "EXCH2"] if args.two_sites else ["EXCH"])
    settings = Settings(
        people=args.people, seed=args.seed, dialect=args.dialect, spokes=args.post_offices,
        hub=args.hub, exchange_pos=tuple(sites), utf16=args.utf16,
        ccmail_encoding=args.ccmail_encoding, crlf=args.crlf, stats=not args.no_stats,
        domain=args.domain, annotate=args.annotate,
    )
    try:
        settings.validate()
    except (ValueError, LookupError) as exc:
        ap.error(str(exc))
    try:
        _prepare(args.out, args.force)
    except FileExistsError as exc:
        ap.error(str(exc))
    given = list(argv if argv is not None else sys.argv[1:])
    # How it was made, minus the flags that do not change a byte of it.
    shown = ["python", "-m", "toolkit.mocks.orggen",
             *(a for a in given if a not in ("--force", "-q", "--quiet"))]
    summary = generate(settings, args.out, shlex.join(shown))
    if not args.quiet:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(summary.exchange.items()))
        print(f"orggen: {summary.people} people, {summary.ldif_entries} LDIF entries ({kinds}), "
              f"{sum(sum(c.values()) for c in summary.ccmail_entries.values())} cc:Mail entries "
              f"in {len(summary.ccmail_entries)} files, {summary.seconds:.1f}s -> {args.out}",
              file=sys.stderr)
    return 0
