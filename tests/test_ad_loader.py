"""Loading an LDIF export into a real AD (mocks/samba/loader.py): what AD
refuses to be given is dropped or mapped, and listed - never lost silently."""

from __future__ import annotations

import json

import pytest
from toolkit.mocks.samba import server as samba
from toolkit.mocks.samba.loader import Loader, schema_attributes

from toolkit.model import RawEntry

pytestmark = pytest.mark.samba


def test_what_ad_refuses_is_listed_and_the_rest_loaded(demo_dc):
    conn = samba._admin_connection(demo_dc.directory, "corp.example")
    base = demo_dc.base_dn
    schema = schema_attributes(conn, f"CN=Schema,CN=Configuration,{base}")
    loader = Loader(conn, base, f"CN=Configuration,{base}", schema)
    user, group = f"CN=No Account Name,CN=Users,{base}", f"CN=Dangling Group,CN=Users,{base}"
    try:
        report = loader.load([
            RawEntry(user, {"objectclass": ["top", "person", "organizationalPerson", "user"],
                            "cn": ["No Account Name"], "whencreated": ["20200101000000.0Z"],
                            "objectguid": [bytes(16)], "msexchunknownthing": ["x"],
                            "proxyaddresses": ["SMTP:noname@corp.example"]}),
            RawEntry(group, {"objectclass": ["top", "group"], "cn": ["Dangling Group"],
                             "member": [f"CN=Nobody,{base}", user]}),
        ], "inline")  # fmt: skip
        assert report.loaded == 2
        assert report.dropped == {"whencreated": 1, "objectguid": 1, "msexchunknownthing": 1}
        # member is added after all entries; a target that does not exist is refused and listed
        [refused] = report.skipped
        assert refused["dn"] == group and refused["attribute"] == "member"
        assert "noSuchObject" in str(refused["reason"])
        # AD generates a sAMAccountName when the export has none, as a real DC does
        conn.search(user, "(objectClass=*)", "BASE", attributes=["sAMAccountName", "proxyAddresses"])
        attrs = conn.response[0]["raw_attributes"]
        assert attrs["sAMAccountName"][0].startswith(b"$")
        assert attrs["proxyAddresses"] == [b"SMTP:noname@corp.example"]
        json.dumps(report.as_json())  # what start() writes to load-report.json
    finally:
        for dn in (group, user):
            conn.delete(dn)
        conn.unbind()
