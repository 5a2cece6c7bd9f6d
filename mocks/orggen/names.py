"""Name pools and name helpers of the organisation generator.

Every string of the pools encodes in cp850, as DOS cc:Mail needs; they mix
plain English names with accents, apostrophes, particles and ``ß``/``ø``/``Þ``
on purpose, because the readers must survive what real directories held.
:func:`ascii_fold` derives account and SMTP names from them, :func:`escape_rdn`
the DNs AD writes, and :func:`at` the cc:Mail addresses.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

SURNAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson",
    "Anderson", "Taylor", "Thomas", "Moore", "Martin", "Jackson", "Thompson", "White",
    "Harris", "Clark", "Lewis", "Walker", "Hall", "Allen", "Young", "King", "Wright",
    "Scott", "Green", "Baker", "Adams", "Nelson", "Hill", "Campbell", "Mitchell",
    "Roberts", "Carter", "Phillips", "Evans", "Turner", "Parker", "Collins", "Edwards",
    "Stewart", "Morris", "Murphy", "Cook", "Rogers", "Morgan", "Cooper", "Peterson",
    "Reed", "Bailey", "Bell", "Kelly", "Howard", "Ward", "Cox", "Richardson", "Wood",
    "Watson", "Brooks", "Bennett", "Gray", "Hughes", "Price", "Sanders", "Myers",
    "Ross", "Foster", "Cole", "Doe", "Grewal", "Ferguson", "O'Brien", "O'Neill",
    "McDonald", "MacLeod", "de Vries", "van Dijk", "van der Berg", "Jansen", "Bakker",
    "Visser", "Meijer", "de Jong", "Müller", "Schmidt", "Schneider", "Fischer", "Weber",
    "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer",
    "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Zimmermann", "Braun",
    "Krüger", "Hartmann", "Lange", "Weiß", "Strauß", "Gößling", "Jørgensen", "Sørensen",
    "Ødegård", "Åberg", "Håkansson", "Björk", "Lindström", "Öberg", "Nyström",
    "Dubois", "Lefèvre", "Fontaine", "Gagné", "Côté", "Lévesque", "Bélanger", "Bérubé",
    "Chevalier", "Mercier", "García", "Martínez", "Rodríguez", "Hernández", "López",
    "González", "Pérez", "Sánchez", "Ramírez", "Núñez", "Muñoz", "Ibáñez", "Peña",
    "Gómez", "Díaz", "Gonçalves", "Conceição", "Brändli", "Zürcher", "Þórsson",
    "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino",
    "Greco", "Bruno", "Gallo", "Conti", "Costa", "Fontana", "Rinaldi", "Barbieri",
    "Nowak", "Kowalski", "Novák", "Horváth", "Nagy", "Kovács", "Tóth", "Szabó",
    "Janssens", "Peeters", "Maes", "Claes", "Goossens", "Wouters", "Dupont", "Lambert",
    "Hansen", "Nielsen", "Pedersen", "Andersen", "Larsen", "Olsen", "Johansson",
    "Karlsson", "Nilsson", "Eriksson", "Virtanen", "Korhonen", "Mäkinen", "Nieminen",
    "Silva", "Santos", "Oliveira", "Sousa", "Ferreira", "Pereira", "Carvalho",
    "Murray", "Quinn", "Byrne", "Ryan", "Walsh", "O'Connor", "Fitzgerald", "Doyle",
)  # fmt: skip
GIVEN = (
    "John", "Jane", "Grover", "Mary", "Michael", "Sarah", "David", "Laura", "James",
    "Emma", "Robert", "Linda", "William", "Susan", "Richard", "Karen", "Thomas",
    "Nancy", "Daniel", "Lisa", "Paul", "Betty", "Mark", "Helen", "Peter", "Anna",
    "Jeff", "Olivia", "At", "Kees", "Anouk", "Sanne", "Joost", "Daan", "Jürgen", "Jörg",
    "Günther", "Käthe", "Björn", "Søren", "Åsa", "Øyvind", "Håkon", "Mårten", "Ingrid",
    "Sigrún", "Þóra", "René", "Renée", "Hélène", "Chloé", "Zoë", "Noël", "François",
    "Françoise", "Jérôme", "Gaël", "Loïc", "José", "Iñigo", "Inés", "María", "Ángel",
    "João", "Dörte", "Ulrike", "Klaus", "Heike", "Maëlle", "Bartholomew", "Ann", "Kat",
    "Giulia", "Marco", "Luca", "Francesca", "Piotr", "Agnieszka", "Tomás", "Zsófia",
    "Lieve", "Pieter", "Mette", "Lars", "Kirsten", "Anders", "Aino", "Mikko", "Ana",
    "Luís", "Inês", "Patrick", "Siobhán", "Seán", "Aoife", "Ciarán", "Brigitte",
    "Dieter", "Élodie", "Théo", "Cécile", "Agnès", "Ursula", "Wolfgang", "Grete",
)  # fmt: skip
INITIALS = tuple(f"{c}." for c in "ABCDEFGHJKLMNPRSTW")
# Names shown by the first instance of some scenarios, so the demo tells its
# story with recognisable people (and always holds a name with ' at ' inside).
FEATURED = {
    "complete": ("Cole", "At"),
    "exchange-only-complete": ("Smith", "Grover"),
    "not-migrated": ("Müller", "Jürgen"),
    "stale": ("Ødegård", "Søren"),
    "stale-unconfirmed": ("Smith", "John"),
    "awaiting-dirsync": ("Muñoz", "Iñigo"),
    "missing-secondary": ("Strauß", "Käthe"),
    "orphan-custom-recipient": ("Lefèvre", "Hélène"),
    "name-conflict-namesake": ("Doe", "Jane"),
    "stale-old-name": ("Weiß", "Renée"),
    "complete-nfd": ("Ibáñez", "José"),
}
COMMENTS = (
    "Sales, 2nd floor", "Accounting", "Comptabilité, Bât. B", "Entwicklung, 3. Stock",
    "Help desk", "Legal", "Marketing, Room 214", "Logística", "IT Operations",
    "Vertrieb Süd", "Direction générale", "Warehouse", "Personalabteilung",
)  # fmt: skip
DEPARTMENTS = ("Sales", "Finance", "IT", "Legal", "Marketing", "Operations", "HR", "Support")

_ASCII_MAP = str.maketrans(
    {"ß": "ss", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "ð": "d", "Ð": "D",
     "þ": "th", "Þ": "Th"}
)  # fmt: skip


@lru_cache(maxsize=8192)
def ascii_fold(text: str) -> str:
    """ASCII letters and digits only: what SMTP, X.400 and account names get."""
    text = unicodedata.normalize("NFKD", text.translate(_ASCII_MAP))
    return re.sub(r"[^A-Za-z0-9]", "", text.encode("ascii", "ignore").decode())


_RDN_SPECIAL = re.compile(r'[,+"\\<>;#]|^ | $')


def escape_rdn(value: str) -> str:
    """RFC 4514 escaping of an RDN value (``Smith\\, John``), as AD writes DNs."""
    if not _RDN_SPECIAL.search(value):
        return value
    out = re.sub(r'([,+"\\<>;])', r"\\\1", value)
    if out.startswith(("#", " ")):
        out = "\\" + out
    if out.endswith(" "):
        out = out[:-1] + "\\ "
    return out


CcValue = tuple[str, str]  # (type as written: CCMAIL / ccmail / ccMail, "name at PO")


def at(name: str, po: str) -> str:
    return f"{name} at {po}"
