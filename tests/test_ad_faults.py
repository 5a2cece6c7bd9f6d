"""A real DC going away in the middle of a paged search (Samba AD DC stopped
between pages): exit 3 saying how far the read got, never a partial report.
The next test gets the DC started again by the session fixture."""

from __future__ import annotations

import json

import pytest
from toolkit.mocks.samba import server as samba

import toolkit.exchange.ldap as ldapmod
from tests.ad_dc import DEMO, org_args
from tests.orgkit import ccmig
from toolkit.errors import ConnectionFailure
from toolkit.exchange.ldap import LdapSettings, read_ldap, read_ldap_chunks, recipient_filter
from toolkit.exchange.ldapread import PageChunks

pytestmark = pytest.mark.samba
PAGE = 50


def stop_after(count: int, directory, real=read_ldap):
    """read_ldap that stops the DC once ``count`` entries have been streamed."""

    def reader(*args, **kwargs):
        for n, entry in enumerate(real(*args, **kwargs), 1):
            yield entry
            if n == count:
                assert samba.stop(directory)

    return reader


def stop_after_chunks(count: int, directory, real=read_ldap_chunks):
    """read_ldap_chunks (the audit's read) that stops the DC once chunks of
    ``count`` entries have been read."""

    def reader(*args, **kwargs):
        source = real(*args, **kwargs)

        def read():
            n, chunks = 0, source.chunks()
            try:
                for chunk in chunks:
                    yield chunk
                    n += source.count(chunk)
                    if n == count:
                        assert samba.stop(directory)
            finally:
                chunks.close()

        return PageChunks(read)

    return reader


def test_stopped_between_pages_is_a_connection_failure_saying_how_far(demo_dc):
    settings = LdapSettings(demo_dc.ldaps_url, demo_dc.base_dn, demo_dc.bind_dn, demo_dc.password,
                            ca_file=demo_dc.ca_file, page_size=PAGE, timeout=10)  # fmt: skip
    got = []
    with pytest.raises(ConnectionFailure) as exc:
        for entry in stop_after(2 * PAGE, demo_dc.directory)(settings, recipient_filter("ad"), ["cn"]):
            got.append(entry)
    assert len(got) == 2 * PAGE
    message = str(exc.value)
    assert "after 100 entries (2 pages)" in message and "incomplete" in message
    assert demo_dc.password not in message


def test_audit_exits_3_and_prints_no_report(demo_dc, monkeypatch):
    monkeypatch.setattr(ldapmod, "read_ldap_chunks", stop_after_chunks(3 * PAGE, demo_dc.directory))
    monkeypatch.setenv("CCMIG_LDAP_PASSWORD", demo_dc.password)
    code, out, err = ccmig("audit", "--ldap-url", demo_dc.ldaps_url, "--ca-file", demo_dc.ca_file,
                           "--base-dn", demo_dc.base_dn, "--bind-dn", demo_dc.bind_dn,
                           "--page-size", str(PAGE), *org_args(DEMO))  # fmt: skip
    assert code == 3
    assert out == ""  # never a partial report
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "after 150 entries (3 pages)" in lines[0]
    assert samba.running_pid(demo_dc.directory) is None


def test_the_dc_is_back_for_the_next_test(demo_dc, monkeypatch):
    monkeypatch.setenv("CCMIG_LDAP_PASSWORD", demo_dc.password)
    code, out, err = ccmig("audit", "--ldap-url", demo_dc.ldaps_url, "--ca-file", demo_dc.ca_file,
                           "--base-dn", demo_dc.base_dn, "--bind-dn", demo_dc.bind_dn, *org_args(DEMO))
    assert code == 0, err
    assert len(json.loads(out)) > 300
