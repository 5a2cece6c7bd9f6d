"""The test doubles' one DN splitter (mocks/dn.py), used by the mock Exchange and the slapd loader."""

from __future__ import annotations

import pytest
from toolkit.mocks import dn
from toolkit.mocks.exchange import organisation
from toolkit.mocks.slapd import server as slapd

ESCAPED = r"CN=Smith\, John \+ Co\\,OU=a\2Cb+CN=x\+y,OU=back\\\\slash,DC=corp;DC=example"


def test_split_keeps_escapes_and_cuts_only_unescaped_separators():
    assert dn.split_dn(ESCAPED) == (
        r"CN=Smith\, John \+ Co\\", r"OU=a\2Cb+CN=x\+y", r"OU=back\\\\slash", "DC=corp", "DC=example")
    assert dn.split_dn('CN="Smith, John",OU=x') == ('CN="Smith, John"', "OU=x")  # quoted (RFC 2253)
    assert dn.split_dn(" CN=a , OU=b ") == ("CN=a", "OU=b") and dn.split_dn("") == ()


def test_multi_valued_rdns_split_at_unescaped_plus_only():
    assert dn.split_rdn(r"OU=a\2Cb+CN=x\+y") == [r"OU=a\2Cb", r"CN=x\+y"]
    assert dn.split_rdn("CN=a\\\\+UID=b") == ["CN=a\\\\", "UID=b"]  # an escaped backslash, then +
    assert dn.split_rdn(r"CN=Smith\, John \+ Co\\") == [r"CN=Smith\, John \+ Co\\"]


@pytest.mark.parametrize(("written", "value"), [
    (r"Smith\, John", "Smith, John"),
    (r"Smith\2C John", "Smith, John"),
    (r"a\+b\\c\=d\"e", 'a+b\\c=d"e'),
    (r"\C5\81ukasz \E5\B1\B1", "Łukasz 山"),  # hex is UTF-8
    (r"\#start\ ", "#start "),
])
def test_values_are_unescaped_as_rfc_4514_says(written, value):
    assert dn.unescape(written) == value
    assert dn.rdns(f"CN={written},DC=x") == (("CN", value), ("DC", "x"))
    assert dn.unescape(dn.escape_rdn_value(value)) == value  # a new DN reads back its name


def test_escape_rdn_value_escapes_specials_and_edge_spaces():
    assert dn.escape_rdn_value('Smith, John + "Co" <x>;=\\') == 'Smith\\, John \\+ \\"Co\\" \\<x\\>\\;\\=\\\\'
    assert dn.escape_rdn_value(" #lead trail ") == "\\ #lead trail\\ "
    assert dn.escape_rdn_value("a\\ ") == "a\\\\\\ "  # a backslash, then a trailing space
    assert dn.escape_rdn_value(" ") == "\\ "


def test_parent_keeps_the_rest_exactly_as_written():
    assert dn.parent_dn(r"CN=Smith\, John,OU=Staff, DC=corp,DC=example") == \
        "OU=Staff, DC=corp,DC=example"
    assert dn.parent_dn("CN=a") == "" and dn.parent_dn(r"CN=a\,b") == ""


def test_both_mocks_use_it():
    assert organisation.rdns is dn.rdns and slapd.split_dn is dn.split_dn
    assert slapd.dn_key(r"cn=Smith\2C John+uid=js,DC=Corp") == \
        slapd.dn_key(r"UID=js+CN=smith\, john,dc=corp")
    assert slapd.dn_key("CN=a\\\\+UID=b,DC=x") == ("cn=a\\+uid=b", "dc=x")
    with pytest.raises(slapd.SlapdError, match="bad RDN"):
        slapd.dn_key("CN=a,nonsense")
