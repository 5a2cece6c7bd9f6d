"""Unit tests of ``ccmig proxies``: every rule's edges, straight from the spec
section "Legacy proxy hygiene" (objects and values, the six codes, inputs)."""

from __future__ import annotations

import pytest

from toolkit.errors import InputError
from toolkit.model import DirEntry, RawEntry
from toolkit.proxies import ProxyInputs, proxies_audit, proxies_types
from toolkit.proxies.model import ProxyValue, value_type
from toolkit.proxies.read import to_object
from toolkit.proxies.rules import CODES, RULES, SEVERITY

BASE = "OU=Staff,DC=corp,DC=example"


def user(cn: str, *proxies: str, mailbox: bool = True, target: str | None = None,
         classes: tuple[str, ...] = ("top", "person", "organizationalPerson", "user"),
         **extra: list[str]) -> RawEntry:
    attrs: dict[str, list] = {"objectclass": list(classes), "cn": [cn]}
    if mailbox:
        attrs["homemdb"] = ["CN=DB1,CN=EX1"]
    if proxies:
        attrs["proxyaddresses"] = list(proxies)
    if target is not None:
        attrs["targetaddress"] = [target]
    attrs.update({k.lower(): v for k, v in extra.items()})
    return RawEntry(f"CN={cn},{BASE}", attrs)


def contact(cn: str, target: str | None, *proxies: str) -> RawEntry:
    return user(cn, *proxies, mailbox=False, target=target,
                classes=("top", "person", "organizationalPerson", "contact"))


class Dir:
    """A DirectoryLayer of hand-made entries."""

    def __init__(self, *entries: DirEntry) -> None:
        self._entries = list(entries)

    def post_offices(self) -> list[str]:
        return sorted({e.file_po for e in self._entries})

    def entries(self):
        return iter(self._entries)


def run(entries, *retire: str, directory: Dir | None = None, decommissioned: bool = False,
        max_values: int | None = None, dialect: str = "ad") -> dict[str, dict]:
    inputs = ProxyInputs(lambda: list(entries), dialect, directory, retire, decommissioned,
                         max_values)
    return {r.dn.split(",")[0][3:]: r.as_dict() for r in proxies_audit(inputs)}


def codes(row: dict) -> list[str]:
    return [f["code"] for f in row["findings"]]


def message(row: dict, code: str) -> str:
    return next(f["message"] for f in row["findings"] if f["code"] == code)


# --------------------------------------------------------------------------- values


@pytest.mark.parametrize(("text", "expected"), [
    ("SMTP:a@x", "SMTP"), ("smtp:a@x", "SMTP"), ("x400:c=US", "X400"), ("foo", None),
    (":foo", None), ("ccmaıl:x at y", "CCMAıL"),  # only ASCII letters are upper-cased
    ("Notes:a:b", "NOTES"), (" smtp:a@x", " SMTP"),
])
def test_value_type_is_text_before_first_colon_ascii_upper(text, expected):
    assert value_type(text) == expected


@pytest.mark.parametrize(("text", "primary"), [
    ("SMTP:a@x", True), ("X400:c=US", True), ("smtp:a@x", False), ("Smtp:a@x", False),
    ("400:x", False), ("X-1:y", True), ("x-1:y", False), ("foo", False),
])
def test_primary_is_type_as_written_with_a_letter_and_no_lower_case(text, primary):
    assert ProxyValue.parse(text).primary is primary


def test_the_same_needs_types_and_folded_addresses():
    a, b = ProxyValue.parse("SMTP:John@X"), ProxyValue.parse("smtp:  john@x ")
    assert a.same_key == b.same_key
    assert ProxyValue.parse("SMTP:Ä@x").same_key == ProxyValue.parse("smtp:A\u0308@X").same_key
    assert ProxyValue.parse("X400:a").same_key != ProxyValue.parse("X500:a").same_key
    assert ProxyValue.parse("foo").same_key is None


# --------------------------------------------------------------------------- objects


def test_objects_ad_kinds_and_computers_never():
    def kind(entry):
        found = to_object(entry, "ad")
        return found and found.kind.value

    assert kind(user("A", "SMTP:a@x")) == "mailbox"
    assert kind(user("B", "SMTP:b@x", mailbox=False)) == "user"
    assert kind(user("C", "SMTP:c@x", mailbox=False, target="SMTP:c@else")) == "custom-recipient"
    assert kind(user("D", "SMTP:d@x", classes=("top", "user", "computer"))) is None
    assert kind(user("E", "SMTP:e@x", classes=("top", "inetOrgPerson"), mailbox=False)) == "user"
    assert kind(contact("F", None, "smtp:f@x")) == "custom-recipient"
    assert kind(RawEntry("CN=G", {"objectclass": ["group"], "proxyaddresses": ["SMTP:g@x"]})) == "group"
    assert kind(RawEntry("CN=H", {"objectclass": ["organizationalUnit"],
                                  "proxyaddresses": ["SMTP:h@x"]})) is None
    # no address value and no non-blank target: not an object
    assert kind(user("I", mailbox=True)) is None
    assert kind(contact("J", "  ")) is None
    assert kind(contact("K", "MS:A/B/K")) == "custom-recipient"


def test_objects_ad_values_in_order_target_is_not_a_value():
    obj = to_object(contact("A", "MS:X/Y/A", "smtp:b@x", "SMTP:a@x"), "ad")
    assert [v.text for v in obj.values] == ["smtp:b@x", "SMTP:a@x"]
    assert obj.targets == ("MS:X/Y/A",)
    assert to_object(user("B", "SMTP:b@x", msExchRecipientTypeDetails=["4"]), "ad").type_details == 4


def test_objects_55_values_other_mailbox_then_mail_once_then_x400():
    entry = RawEntry("cn=jsmith,ou=Site,o=Org", {
        "objectclass": ["organizationalPerson"],
        "othermailbox": ["CCMAIL$Smith, John at PO1", "MS$ORG/SITE/JSMITH", "nodollar"],
        "mail": ["john@org.example"], "rfc822mailbox": ["john@org.example"],
        "textencodedoraddress": ["c=US;a= ;p=Org;o=Site;s=Smith;"],
    })
    obj = to_object(entry, "exchange55")
    assert [v.text for v in obj.values] == [
        "CCMAIL:Smith, John at PO1", "MS:ORG/SITE/JSMITH", "nodollar", "SMTP:john@org.example",
        "X400:c=US;a= ;p=Org;o=Site;s=Smith;"]
    assert [v.type for v in obj.values] == ["CCMAIL", "MS", None, "SMTP", "X400"]
    assert not any(v.primary for v in obj.values)  # case says nothing in 5.5
    only_rfc = RawEntry("cn=a,o=Org", {"objectclass": ["organizationalPerson"],
                                       "rfc822mailbox": ["a@org.example"]})
    assert [v.text for v in to_object(only_rfc, "exchange55").values] == ["SMTP:a@org.example"]
    assert to_object(RawEntry("cn=r,o=Org", {"objectclass": ["remote-address"],
                                             "target-address": ["MS:ORG/X/R"]}),
                     "exchange55").kind.value == "custom-recipient"


# --------------------------------------------------------------------------- malformed-proxy


@pytest.mark.parametrize(("value", "reason"), [
    ("nocolon", "no type"), (":x@y", "no type"), ("MS:", "empty address"),
    (" smtp:a@x", "white space"), ("smtp:a@x ", "white space"), ("smtp: a@x", "white space"),
    ("MS:A\tB", "control character"), ("MS:A\x85B", "control character"),
    ("SMTP:a@b@c", "exactly one '@'"), ("smtp:@b", "exactly one '@'"), ("SMTP:a@", "exactly one '@'"),
    ("SMTP:ab", "exactly one '@'"),
])
def test_malformed_proxy_each_predicate(value, reason):
    rows = run([user("A", "SMTP:a@corp.example", value)])
    assert codes(rows["A"]) == ["malformed-proxy"]
    assert f"'{value}'" in message(rows["A"], "malformed-proxy")
    assert reason in message(rows["A"], "malformed-proxy")


def test_well_formed_values_are_not_malformed():
    assert run([user("A", "SMTP:a@x", "smtp:b@x", "X400:c=US;a= ;", "MS:A/B/C",
                     "CCMAIL:Smith, John at PO1", "x500:/o=Org/cn=a", "NOTES:a b/c@d")]) == {}


# --------------------------------------------------------------------------- duplicate-proxy


def test_duplicate_proxy_both_objects_every_partner_sorted_by_key():
    rows = run([user("C", "SMTP:x@corp"), user("A", "smtp:X@CORP"), contact("B", None, "smtp:x@corp "),
                user("D", "X400:x@corp")])
    assert set(rows) == {"A", "B", "C"}
    for name in "ABC":
        assert "duplicate-proxy" in codes(rows[name])
    msg = message(rows["C"], "duplicate-proxy")
    assert msg.index(f"CN=A,{BASE}") < msg.index(f"CN=B,{BASE}")
    assert "'SMTP:x@corp'" in msg and f"CN=C,{BASE}:" in msg
    assert "CN=D" not in msg


def test_duplicate_within_one_object_or_without_type_is_not_a_duplicate():
    assert run([user("A", "SMTP:a@x", "smtp:a@x"), user("B", "b@x"), user("C", "b@x")]).keys() == {
        "B", "C"}  # only malformed (no type), never duplicate
    rows = run([user("B", "b@x"), user("C", "b@x")])
    assert codes(rows["B"]) == ["malformed-proxy"]


# --------------------------------------------------------------------------- retired-target


def test_retired_target_custom_recipient_dealt_with_as_a_whole():
    rows = run([contact("A", "ms:ORG/X/A", "MS:ORG/X/A2", "SMTP:a@x"),
                user("M", "SMTP:m@x", "MS:ORG/X/M2", target="MS:ORG/X/M")], "MS")
    assert codes(rows["A"]) == ["retired-target"]
    assert rows["A"]["remove"] == []
    assert "'ms:ORG/X/A'" in message(rows["A"], "retired-target")
    # a mailbox's targetAddress is no custom recipient's target: its values go as usual
    assert codes(rows["M"]) == ["retired-address"] and rows["M"]["remove"] == ["MS:ORG/X/M2"]


def test_retired_target_not_retired_type_means_nothing():
    assert run([contact("A", "SMTP:a@else", "smtp:a2@x")], "MS") == {}


# --------------------------------------------------------------------------- retired-in-use


def entries(*specs: tuple[str, str, str]) -> Dir:
    return Dir(*(DirEntry(name, locn, po) for name, locn, po in specs))


def test_retired_in_use_keeps_values_whose_name_cc_mail_still_has():
    d = entries(("smith,  JOHN", "L", "PO1"), ("Doe, Jane", "R", "PO1"), ("Lee, Ann", "P", "PO1"),
                ("Kim, Bo", "A", "PO1"), ("Roe, Al", "r", "PO2"))
    rows = run([
        user("S", "SMTP:s@x", "CCMAIL:Smith, John at EXCH", "ccmail:Smith, John at PO9", "MS:A/B/S"),
        user("D", "SMTP:d@x", "CCMAIL:Doe, Jane at EXCH"),
        user("L", "SMTP:l@x", "CCMAIL:Lee, Ann at EXCH"),  # P entry: not a user
        user("K", "SMTP:k@x", "CCMAIL:Kim, Bo at EXCH"),   # A entry: an alias, not a user
        user("R", "SMTP:r@x", "CCMAIL:Roe, Al at EXCH"),
        user("Q", "SMTP:q@x", 'CCMAIL:Smith, "John" at EXCH'),  # invalid: never kept
    ], "CCMAIL", "MS", directory=d)
    assert codes(rows["S"]) == ["retired-in-use", "retired-address"]
    assert rows["S"]["remove"] == ["MS:A/B/S"]
    msg = message(rows["S"], "retired-in-use")
    assert "'CCMAIL:Smith, John at EXCH'" in msg and "'ccmail:Smith, John at PO9'" in msg
    assert "smith,  JOHN" in msg
    assert codes(rows["D"]) == ["retired-in-use"] and rows["D"]["remove"] == []
    assert codes(rows["R"]) == ["retired-in-use"]
    assert codes(rows["L"]) == ["retired-address"] and rows["L"]["remove"] == ["CCMAIL:Lee, Ann at EXCH"]
    assert codes(rows["K"]) == ["retired-address"]
    assert codes(rows["Q"]) == ["retired-address"]


def test_retired_in_use_only_when_ccmail_is_retired():
    d = entries(("Smith, John", "L", "PO1"))
    rows = run([user("S", "SMTP:s@x", "CCMAIL:Smith, John at EXCH", "MS:A/B/S")], "MS", directory=d)
    assert codes(rows["S"]) == ["retired-address"] and rows["S"]["remove"] == ["MS:A/B/S"]


def test_retired_in_use_applies_next_to_retired_target():
    d = entries(("Smith, John", "L", "PO1"))
    rows = run([contact("S", "CCMAIL:Smith, John at PO1", "CCMAIL:Smith, John at EXCH")],
               "CCMAIL", directory=d)
    assert codes(rows["S"]) == ["retired-target", "retired-in-use"]
    assert rows["S"]["remove"] == []


# --------------------------------------------------------------------------- retired-address


def test_retired_address_removes_primary_malformed_and_duplicate_values():
    rows = run([user("A", "SMTP:a@x", "MS:ORG/A", "ms:org/a ", "MS:", "X400:c=US"),
                user("B", "smtp:b@x", "ms:org/a")], "ms")
    assert rows["A"]["remove"] == ["MS:ORG/A", "ms:org/a ", "MS:"]
    assert codes(rows["A"]) == ["malformed-proxy", "duplicate-proxy", "retired-address"]
    assert rows["A"]["status"] == "malformed-proxy"
    assert rows["B"]["remove"] == ["ms:org/a"]
    msg = message(rows["A"], "retired-address")
    assert "'MS:ORG/A', 'ms:org/a ', 'MS:'" in msg


def test_retired_type_compares_ascii_upper_case():
    rows = run([user("A", "SMTP:a@x", "gwise:x", "GWise:y", "ccmaıl:Smith at PO1")], "GWISE",
               "ccmail", decommissioned=True)
    assert rows["A"]["remove"] == ["gwise:x", "GWise:y"]


# --------------------------------------------------------------------------- too-many-values


def test_too_many_values_more_than_n():
    objs = [user("A", "SMTP:a@x", "smtp:a2@x"), user("B", "SMTP:b@x", "smtp:b2@x", "smtp:b3@x")]
    rows = run(objs, max_values=2)
    assert set(rows) == {"B"} and codes(rows["B"]) == ["too-many-values"]
    assert "3 address values, more than 2" in message(rows["B"], "too-many-values")
    assert codes(run(objs, max_values=0)["A"]) == ["too-many-values"]
    assert run(objs) == {}


# --------------------------------------------------------------------------- rows and codes


def test_codes_in_table_order_with_severities():
    assert CODES == ("malformed-proxy", "duplicate-proxy", "retired-target", "retired-in-use",
                     "retired-address", "too-many-values")
    assert [SEVERITY[c] for c in CODES] == ["error"] * 4 + ["warning"] * 2
    assert [r.__name__.replace("_", "-") for r in RULES] == list(CODES)  # one function a code


def test_rows_sorted_by_key_and_shape():
    objs = [user("b", "MS:1"), user("A", "MS:2"), user("C", "SMTP:c@x")]
    inputs = ProxyInputs(lambda: objs, retire=("MS",))
    rows = [r.as_dict() for r in proxies_audit(inputs)]
    assert [r["key"] for r in rows] == [f"dn:cn=a,{BASE.lower()}", f"dn:cn=b,{BASE.lower()}"]
    assert list(rows[0]) == ["key", "dn", "kind", "values", "remove", "status", "findings"]
    assert rows[0]["values"] == 1 and rows[0]["kind"] == "mailbox"


# --------------------------------------------------------------------------- inputs


@pytest.mark.parametrize("bad", ["SMTP", "smtp", "X500", "Sip", "eum"])
def test_retire_refuses_types_that_carry_mail(bad):
    with pytest.raises(InputError, match=bad.upper()) as info:
        run([], bad)
    assert info.value.where == "--retire"


@pytest.mark.parametrize("bad", ["", "A B", "X.400", "MS:", "ÄB"])
def test_retire_only_ascii_letters_digits_dash(bad):
    with pytest.raises(InputError) as info:
        run([], bad)
    assert info.value.where == "--retire"


def test_ccmail_needs_evidence_and_no_connector():
    objs = [user("A", "SMTP:a@x", "CCMAIL:A at PO1")]
    with pytest.raises(InputError, match="evidence"):
        run(objs, "CCMAIL")
    assert run(objs, "CCMAIL", decommissioned=True)["A"]["remove"] == ["CCMAIL:A at PO1"]
    assert run(objs, "CCMAIL", directory=entries(("B", "L", "PO1")))["A"]["remove"] == [
        "CCMAIL:A at PO1"]
    connector = Dir(DirEntry("EXCH", "P", "HUB", comments="MSExchangeCCMC EX1"))
    with pytest.raises(InputError, match="connector"):
        run(objs, "CCMAIL", directory=connector)
    with pytest.raises(InputError, match="connector"):
        run(objs, "CCMAIL", directory=connector, decommissioned=True)
    # a P entry that is not the connector, and the connector when CCMAIL is not retired: fine
    assert run(objs, "CCMAIL", directory=Dir(DirEntry("PO2", "P", "HUB", comments="x")))
    assert run(objs, "MS", directory=connector) == {}


# --------------------------------------------------------------------------- types


def test_types_rows_counts_retired_and_untyped():
    objs = [user("A", "SMTP:a@x", "smtp:a2@x", "X400:c=US", "junk"),
            user("B", "smtp:b@x", "x400:c=US;b"), contact("C", "MS:T/C")]
    inputs = ProxyInputs(lambda: objs, retire=("GWISE", "x400", "CCMAIL"))
    rows = [r.as_dict() for r in proxies_types(inputs)]  # CCMAIL needs no evidence here
    assert rows == [
        {"type": "", "objects": 1, "values": 1, "primaries": 0, "retired": False, "policies": None},
        {"type": "CCMAIL", "objects": 0, "values": 0, "primaries": 0, "retired": True, "policies": None},
        {"type": "GWISE", "objects": 0, "values": 0, "primaries": 0, "retired": True, "policies": None},
        {"type": "SMTP", "objects": 2, "values": 3, "primaries": 1, "retired": False, "policies": None},
        {"type": "X400", "objects": 2, "values": 2, "primaries": 1, "retired": True, "policies": None},
    ]


def test_types_55_primaries_null_and_policies_seam():
    from toolkit.proxies.inventory import type_rows

    entry = RawEntry("cn=a,o=Org", {"objectclass": ["organizationalPerson"],
                                     "othermailbox": ["MS$A/B/C"], "mail": ["a@org"]})
    rows = proxies_types(ProxyInputs(lambda: [entry], "exchange55"))
    assert [(r.type, r.primaries) for r in rows] == [("MS", None), ("SMTP", None)]
    obj = to_object(user("A", "SMTP:a@x"), "ad")
    rows = type_rows([obj], {"MS"}, True, {"Default": ["SMTP", "X400"], "Old": ["X400", "CCMAIL"]})
    assert [(r.type, r.values, r.policies) for r in rows] == [
        ("CCMAIL", 0, ("Old",)), ("MS", 0, ()), ("SMTP", 1, ("Default",)),
        ("X400", 0, ("Default", "Old"))]
