"""``ccmig proxies plan``: one remove-proxy-addresses action per object with a
non-empty ``remove``, the cmdlet per recipient type, blocking by email address
policies, and ps1/ldif plans that no hostile value can break out of."""

from __future__ import annotations

import base64
import csv
import io
import json

import pytest

from tests.orgkit import Obj, Org, ccmig, contact, group, mail_user, mailbox
from tests.test_hostile import ps_statements
from toolkit.errors import InputError
from toolkit.model import RawEntry
from toolkit.proxies.plan import CMDLETS, POLICIES_EXCLUDED, cmdlet_for, make_proxy_plan
from toolkit.proxies.read import to_object
from toolkit.proxies.settings import make_settings

HOSTILE = ["MS:O'Brien’s ‘box’ $(Remove-Item C:\\) `n; #>", "MS:line\nbreak\r\u2028sep",
           " MS:lead", "MS:trail ", "MS:=cmd|' /C calc'!A0", "MS:::colons", "MS:<angle", "MS:é"]


def entry(*proxies: str, classes=("user",), **attrs: list[str]) -> RawEntry:
    data: dict[str, list] = {"objectclass": list(classes), "proxyaddresses": list(proxies)}
    data.update({k.lower(): v for k, v in attrs.items()})
    return RawEntry("CN=X,DC=corp,DC=example", data)


# --------------------------------------------------------------------------- cmdlet


@pytest.mark.parametrize(("name", "value", "cmdlet"), [
    (name, value, cmdlet) for name, (value, cmdlet) in CMDLETS.items()])
def test_cmdlet_from_recipient_type_details(name, value, cmdlet):
    obj = to_object(entry("MS:a", homeMDB=["x"], msExchRecipientTypeDetails=[str(value)]), "ad")
    assert cmdlet_for(obj) == cmdlet
    assert cmdlet_for(obj, name) == cmdlet  # PowerShell's RecipientTypeDetails name


def test_cmdlet_for_the_spec_list():
    assert {n: c for n, (_, c) in CMDLETS.items()} | {} == {
        "UserMailbox": "Set-Mailbox", "LinkedMailbox": "Set-Mailbox", "SharedMailbox": "Set-Mailbox",
        "RoomMailbox": "Set-Mailbox", "EquipmentMailbox": "Set-Mailbox",
        "MailContact": "Set-MailContact", "MailUser": "Set-MailUser",
        "MailUniversalDistributionGroup": "Set-DistributionGroup",
        "MailNonUniversalGroup": "Set-DistributionGroup",
        "MailUniversalSecurityGroup": "Set-DistributionGroup", "RoomList": "Set-DistributionGroup",
        "DynamicDistributionGroup": "Set-DynamicDistributionGroup",
        "PublicFolder": "Set-MailPublicFolder", "RemoteUserMailbox": "Set-RemoteMailbox",
        "RemoteRoomMailbox": "Set-RemoteMailbox", "RemoteEquipmentMailbox": "Set-RemoteMailbox",
        "RemoteSharedMailbox": "Set-RemoteMailbox"}
    assert CMDLETS["RemoteUserMailbox"][0] == 2147483648
    assert CMDLETS["RemoteSharedMailbox"][0] == 34359738368


def test_cmdlet_by_kind_when_unknown_and_none_for_user():
    def cmdlet(e):
        return cmdlet_for(to_object(e, "ad"))

    assert cmdlet(entry("MS:a", homeMDB=["x"])) == "Set-Mailbox"
    assert cmdlet(entry("MS:a", homeMDB=["x"], msExchRecipientTypeDetails=["12345"])) == "Set-Mailbox"
    assert cmdlet(entry("MS:a", classes=("contact",))) == "Set-MailContact"
    assert cmdlet(entry("MS:a", targetAddress=["SMTP:x@y"])) == "Set-MailUser"
    assert cmdlet(entry("MS:a", classes=("group",))) == "Set-DistributionGroup"
    assert cmdlet(entry("MS:a")) is None
    assert cmdlet(entry("MS:a", msExchRecipientTypeDetails=["1"])) is None  # kind user: LDAP only


# --------------------------------------------------------------------------- actions


def plan_of(entries, *retire, policies=None, max_values=None):
    objs = [to_object(e, "ad") for e in entries]
    settings = make_settings(retire, None, True, max_values)
    return make_proxy_plan([o for o in objs if o], settings, "ad", {"x": 1}, policies)


def test_policies_block_only_objects_that_follow_them():
    follows = RawEntry("CN=F,DC=x", {"objectclass": ["user"], "homemdb": ["x"],
                                     "proxyaddresses": ["SMTP:f@x", "MS:F", "X400:c=US;s=F"]})
    excluded = RawEntry("CN=E,DC=x", {"objectclass": ["user"], "homemdb": ["x"],
                                      "proxyaddresses": ["SMTP:e@x", "MS:E"],
                                      "msexchpoliciesexcluded": [POLICIES_EXCLUDED.upper()]})
    plan = plan_of([follows, excluded], "MS", "X400",
                   policies={"Zeta": ["SMTP", "MS"], "Alpha": ["MS"], "Other": ["SMTP"]})
    by_dn = {a.dn: a for a in plan.actions}
    assert by_dn["CN=F,DC=x"].blocked and "Alpha, Zeta" in by_dn["CN=F,DC=x"].blocked_reason
    assert "Other" not in by_dn["CN=F,DC=x"].blocked_reason
    assert not by_dn["CN=E,DC=x"].blocked and by_dn["CN=E,DC=x"].blocked_reason is None
    assert "does not follow" in by_dn["CN=E,DC=x"].precondition
    assert not plan_of([follows], "X400", policies={"Alpha": ["MS"]}).actions[0].blocked
    unchecked = plan_of([follows], "MS").actions[0]
    assert not unchecked.blocked and "policies were not checked" in unchecked.precondition


def test_actions_match_audit_remove_and_reasons():
    entries = [RawEntry(f"CN={n},DC=x", {"objectclass": ["user"], "homemdb": ["x"],
                                         "proxyaddresses": p})
               for n, p in (("B", ["SMTP:b@x", "MS:B", "ms:shared"]), ("A", ["SMTP:a@x", "MS: A"]),
                            ("C", ["SMTP:c@x", "ms:shared"]), ("D", ["SMTP:d@x"]))]
    plan = plan_of(entries, "MS", max_values=2)
    assert [(a.id, a.dn, a.values) for a in plan.actions] == [
        ("0001", "CN=A,DC=x", ["MS: A"]), ("0002", "CN=B,DC=x", ["MS:B", "ms:shared"]),
        ("0003", "CN=C,DC=x", ["ms:shared"])]
    assert plan.actions[0].reason == ["malformed-proxy", "retired-address"]
    assert plan.actions[1].reason == ["duplicate-proxy", "retired-address", "too-many-values"]
    assert plan.actions[2].reason == ["duplicate-proxy", "retired-address"]
    assert all(a.kind == "remove-proxy-addresses" and a.cmdlet == "Set-Mailbox"
               for a in plan.actions)


def test_exchange55_has_no_plan():
    with pytest.raises(InputError) as info:
        make_proxy_plan([], make_settings(["MS"], None, False, None), "exchange55", {})
    assert info.value.where == "--dialect"


# --------------------------------------------------------------------------- CLI and formats


@pytest.fixture
def org_args(org: Org) -> list[str]:
    user = Obj("CN=Plain\\, User,OU=Staff,DC=corp,DC=example",
               [("objectClass", "user"), ("cn", "Plain, User"), ("proxyAddresses", "MS:PLAIN")])
    hostile = mailbox("O'Brien $(x) `n #> ‘q’", "SMTP:ob@corp.example", *HOSTILE,
                      msExchRecipientTypeDetails="4")
    org.objects = [
        mailbox("Smith, John", "SMTP:john@corp.example", "MS:CORP/HQ/JSMITH", "x400:c=US;s=Smith",
                "X500:/o=Corp/cn=jsmith"),
        hostile, contact("Old", "MS:CORP/OLD", "MS:CORP/OLD2"),
        mail_user("Mail, User", "SMTP:mu@else.example", "ms:CORP/MU"),
        group("Sales", "SMTP:sales@corp.example", "MS:CORP/SALES"), user,
    ]
    return org.write()


def test_plan_json_one_action_per_object_with_remove(org_args):
    code, out, err = ccmig("proxies", "plan", *org_args, "--retire", "MS", "--retire", "X400")
    assert code == 0, err
    plan = json.loads(out)
    assert plan["inputs"]["retire"] == ["MS", "X400"] and plan["inputs"]["policies_checked"] is False
    audit = json.loads(ccmig("proxies", "audit", *org_args, "--retire", "MS", "--retire", "X400",
                             "--format", "json")[1])
    assert [(a["target"], a["values"]) for a in plan["actions"]] == [
        (r["key"], r["remove"]) for r in audit if r["remove"]]
    by_cn = {a["dn"].split(",OU=")[0]: a for a in plan["actions"]}
    assert by_cn["CN=Smith\\, John"]["cmdlet"] == "Set-Mailbox"
    assert by_cn["CN=Smith\\, John"]["values"] == ["MS:CORP/HQ/JSMITH", "x400:c=US;s=Smith"]
    assert by_cn["CN=Mail\\, User"]["cmdlet"] == "Set-MailUser"
    assert by_cn["CN=Sales"]["cmdlet"] == "Set-DistributionGroup"
    assert by_cn["CN=Plain\\, User"]["cmdlet"] is None
    assert "CN=Old" not in by_cn  # retired-target: dealt with as a whole
    assert list(plan["actions"][0]) == ["id", "kind", "target", "dn", "cmdlet", "values",
                                        "reason", "precondition", "blocked", "blocked_reason"]


def test_plan_ps1_is_injection_safe(org_args):
    code, out, err = ccmig("proxies", "plan", *org_args, "--retire", "MS", "--format", "ps1")
    assert code == 0, err
    plan = json.loads(ccmig("proxies", "plan", *org_args, "--retire", "MS")[1])
    expected = [[("word", "$ErrorActionPreference"), ("word", "="), ("lit", "Stop")]]
    for a in plan["actions"]:
        if a["cmdlet"] is None:
            continue
        values: list[tuple[str, str]] = [("word", "@{Remove=")]
        for n, v in enumerate(a["values"]):
            values += ([("word", ",")] if n else []) + [("lit", v)]
        expected.append([("word", a["cmdlet"]), ("word", "-Identity"), ("lit", a["dn"]),
                         ("word", "-EmailAddresses"), *values, ("word", "}")])
    assert ps_statements(out.lstrip("\ufeff")) == expected
    assert out.startswith("\ufeff")
    assert "# " in out and "no Exchange recipient" in out  # the user: a comment line only
    assert "policies were not checked" in out


def parse_ldif_changes(text: str) -> list[tuple[str, list[str]]]:
    """dn and deleted proxyAddresses of each record (unfolded, base64 decoded)."""
    out = []
    for block in text.split("\n\n"):
        lines = [ln for ln in block.replace("\n ", "").split("\n") if ln and not ln.startswith("#")]
        if not lines or lines[0].startswith("version"):
            continue
        dn, values = None, []
        for ln in lines:
            name, _, rest = ln.partition(":")
            value = base64.b64decode(rest[2:]).decode() if rest.startswith(":") else rest[1:]
            if name == "dn":
                dn = value
            elif name == "proxyAddresses":
                values.append(value)
            else:
                assert (name, value) in {("changetype", "modify"), ("delete", "proxyAddresses")} \
                    or ln == "-", ln
        out.append((dn, values))
    return out


def test_plan_ldif_is_exact_and_injection_safe(org_args):
    code, out, err = ccmig("proxies", "plan", *org_args, "--retire", "MS", "--format", "ldif")
    assert code == 0, err
    plan = json.loads(ccmig("proxies", "plan", *org_args, "--retire", "MS")[1])
    assert parse_ldif_changes(out) == [(a["dn"], a["values"]) for a in plan["actions"]]
    assert "policies were not checked" in out.split("version: 1")[0]
    assert "\r" not in out and all(ln.isascii() for ln in out.splitlines() if not ln.startswith("#"))
    hostile = [v for a in plan["actions"] for v in a["values"] if v in HOSTILE]
    # every hostile value, whole, as read; " MS:lead" is of type " MS", which is not retired
    assert hostile == [v for v in HOSTILE if v != " MS:lead"]


def test_plan_csv_and_refusals(org_args):
    code, out, _ = ccmig("proxies", "plan", *org_args, "--retire", "MS", "--format", "csv")
    lines = list(csv.reader(io.StringIO(out)))
    assert lines[0] == ["id", "kind", "target", "dn", "cmdlet", "values", "reason",
                        "precondition", "blocked", "blocked_reason"]
    assert all(not c.startswith(("=", "+", "-", "@")) for line in lines for c in line)
    assert any(json.loads(line[5]) == ["MS:CORP/SALES"] for line in lines[1:])
    code, out, err = ccmig("proxies", "plan", *org_args, "--retire", "MS", "--dialect",
                           "exchange55")
    assert code == 2 and out == "" and "--dialect" in err
    code, _, err = ccmig("proxies", "plan", *org_args, "--retire", "CCMAIL")
    assert code == 2 and "evidence" in err
    code, _, err = ccmig("proxies", "plan", *org_args, "--retire", "SIP")
    assert code == 2 and "SIP" in err
