"""An organisation with every recipient type proxy hygiene meets, for the mock
Exchange and the LDIF reader alike (tests/test_mock_exchange_proxies.py,
tests/test_proxies_powershell.py)."""

from __future__ import annotations

import json
from pathlib import Path

from toolkit.mocks.exchange import MockExchange, MockExchangeServer

from tests.orgkit import Obj, Org, contact, group, mail_user, mailbox
from toolkit.exchange.powershell import ExchangeSettings

EXCLUDED = "{26491cfc-9e50-4857-861b-0cb8df22b5d7}"
HOSTILE = ('CCMAIL:Smith, "Jo" [x] at PO1', "CCMAIL:Tab\tName at PO1", "SMTP:two@at@corp.example",
           " smtp:lead@corp.example", "smtp:trail@corp.example ", "MS:=HYPERLINK(1)",
           "MS:O'Brien; $(calc) `n @{x=1}")
PASSWORD = "s3cret-Pw"


def dn(cn: str) -> str:
    return f"CN={cn.replace(',', chr(92) + ',')},OU=Staff,DC=corp,DC=example"


def _typed(cn: str, classes: tuple[str, ...], *proxies: str, **extra: str) -> Obj:
    attrs: list[tuple[str, str | bytes]] = [("objectClass", c) for c in classes]
    attrs += [("cn", cn), *(("proxyAddresses", p) for p in proxies), *extra.items()]
    return Obj(dn(cn), attrs)


def objects() -> list[Obj]:
    """Smith follows policies; Lee does not; one recipient of each other type."""
    return [
        mailbox("Smith, John", "SMTP:john@corp.example", "CCMAIL:Smith, John at EXCH",
                "MS:CORP/HQ/JSMITH", "X400:c=US;a= ;p=Corp;s=Smith;"),
        mailbox("Lee, Ann", "SMTP:ann@corp.example", "CCMAIL:Lee, Ann at EXCH",
                "MS:CORP/HQ/ALEE", msExchPoliciesExcluded=EXCLUDED),
        mailbox("Room, One", "SMTP:room1@corp.example", "MS:CORP/HQ/ROOM1",
                msExchRecipientTypeDetails="16"),
        mailbox("Shared, Box", "SMTP:shared@corp.example", "MS:CORP/HQ/SHARED",
                msExchRecipientTypeDetails="4", msExchPoliciesExcluded=EXCLUDED),
        _typed("Remote, Rita", ("top", "person", "organizationalPerson", "user"),
               "SMTP:rita@corp.example", "MS:CORP/HQ/RITA",
               targetAddress="SMTP:rita@corp.mail.onmicrosoft.com",
               msExchRecipientTypeDetails="2147483648", msExchPoliciesExcluded=EXCLUDED),
        mail_user("Mail, User", "SMTP:mu@else.example", "smtp:mu@corp.example",
                  "MS:CORP/HQ/MU"),
        contact("Old, Contact", "SMTP:old@else.example", "SMTP:old@else.example",
                "MS:CORP/HQ/OLD"),
        group("Sales", "SMTP:sales@corp.example", "MS:CORP/HQ/SALES"),
        _typed("Dyn Staff", ("top", "msExchDynamicDistributionList"),
               "SMTP:dyn@corp.example", "MS:CORP/HQ/DYN", mailNickname="dyn"),
        _typed("Folder, Public", ("top", "publicFolder"), "SMTP:pf@corp.example",
               "MS:CORP/HQ/PF", mailNickname="pf"),
        mailbox("Hostile, Harry", "SMTP:harry@corp.example", *HOSTILE,
                msExchPoliciesExcluded=EXCLUDED),
    ]


def write_org(root: Path) -> Path:
    """``org.ldif`` under ``root``: the LDIF the mock loads and ``--ldif`` reads."""
    org = Org(root)
    org.objects = objects()
    org.write()
    return root / "org.ldif"


def write_policies(path: Path, *policies: dict) -> Path:
    path.write_text(json.dumps(list(policies)), encoding="utf-8")
    return path


CCMAIL_POLICY = {"name": "Legacy cc:Mail", "priority": 1,
                 "enabled": ["SMTP:%g.%s@corp.example", "CCMAIL:%s, %g at EXCH"],
                 "disabled": ["MS:CORP/HQ/%g%s"]}


def start(ldif: Path, policies: Path | None = None) -> MockExchangeServer:
    core = MockExchange.from_files(ldif, None, policies, password=PASSWORD)
    return MockExchangeServer(core).start()


def settings_for(srv: MockExchangeServer, **kw: object) -> ExchangeSettings:
    base: dict = dict(auth="basic", username=srv.core.username, password=PASSWORD,
                      allow_unencrypted=True, timeout=10)
    base.update(kw)
    return ExchangeSettings(srv.uri, **base)
