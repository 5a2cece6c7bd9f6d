"""Folding: the one comparison rule of the spec (Terms, *Folded*).

Every name, PO, DN and identity comparison goes through :func:`fold`, so two
spellings that cc:Mail or AD treat as one compare equal everywhere.
"""

from __future__ import annotations

import unicodedata


def squeeze(value: str) -> str:
    """Trim and fold white-space runs to one space (display form, case kept)."""
    return " ".join(value.split())


def fold(value: str) -> str:
    """NFC, trim, fold white-space runs, Unicode case folding."""
    if value.isascii():  # ASCII is its own NFC: skip the call (most values)
        return " ".join(value.split()).casefold()
    return " ".join(unicodedata.normalize("NFC", value).split()).casefold()
