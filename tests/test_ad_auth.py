"""Authentication against a real Active Directory (Samba AD DC): Kerberos with a
ticket from Samba's KDC, NTLM, and the server's own refusals as one line + exit 3
naming the fix. Nothing is skipped (scripts/test installs Samba, krb5-user and
the `kerberos` extra)."""

from __future__ import annotations

import importlib.util
import os
import subprocess

import ldap3
import pytest
from toolkit.mocks.samba import server as samba

from tests.ad_dc import DEMO, live_audit, offline_audit, org_args, rows_of
from tests.orgkit import ccmig

pytestmark = pytest.mark.samba
WRONG_PASSWORD = "Wr0ng-S3cret-*()-ÄÖ"


def audit(info: samba.ServerInfo, monkeypatch, *args: str, password: str | None = None):
    if password is not None:
        monkeypatch.setenv("CCMIG_LDAP_PASSWORD", password)
    code, out, err = ccmig("audit", "--base-dn", info.base_dn, *args, *org_args(DEMO))
    return code, out, err


def one_error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# ---------------------------------------------------------------- Kerberos


@pytest.fixture
def ticket(demo_dc, tmp_path, monkeypatch) -> str:
    """A ticket for the service account from Samba's KDC, in a private cache."""
    cache = f"FILE:{tmp_path / 'krb5cc'}"
    env = dict(os.environ, KRB5_CONFIG=demo_dc.krb5_config, KRB5CCNAME=cache)
    done = subprocess.run([samba.find_tool("kinit"), "-k", "-t", demo_dc.keytab, demo_dc.principal],
                          capture_output=True, text=True, env=env, timeout=30)  # fmt: skip
    assert done.returncode == 0, done.stderr
    monkeypatch.setenv("KRB5_CONFIG", demo_dc.krb5_config)
    monkeypatch.setenv("KRB5CCNAME", cache)
    return cache


@pytest.mark.parametrize("transport", [("--ldap-url", "ldaps://localhost"),
                                       ("--ldap-url", "ldap://localhost", "--starttls")])
def test_kerberos_ticket_from_the_kdc_gives_the_same_rows(demo_dc, ticket, transport):
    assert demo_dc.kerberos_url == "ldaps://localhost"
    code, out, err = audit(demo_dc, None, *transport, "--ldap-auth", "gssapi", "--ca-file", demo_dc.ca_file)
    assert code == 0, err
    assert rows_of(out) == rows_of(offline_audit(DEMO))


def test_kerberos_on_plain_ldap_names_tls_as_the_fix(demo_dc, ticket):
    # Samba (like a DC requiring LDAP signing) wants sign/seal on ldap://; ccmig does neither.
    code, out, err = audit(demo_dc, None, "--ldap-url", "ldap://localhost", "--ldap-auth", "gssapi")
    assert code == 3 and out == ""
    line = one_error_line(err)
    assert "signing" in line and "ldaps://" in line and "--starttls" in line


def test_kerberos_by_ip_address_names_the_spn_problem(demo_dc, ticket):
    code, _, err = audit(demo_dc, None, "--ldap-url", demo_dc.ldaps_url, "--ldap-auth", "gssapi",
                         "--ca-file", demo_dc.ca_file)  # fmt: skip
    assert code == 3
    assert "ldap/127.0.0.1" in one_error_line(err) and "host name" in err


def test_sasl_refused_even_over_tls_names_simple_binds_and_the_setting(ad_controller, ticket, monkeypatch):
    # Samba's own default ("require strong auth = yes") wants sign/seal on TLS too; Windows does not.
    with ad_controller.smb_conf("demo", DEMO / "org.ldif", "ldap server require strong auth", "yes") as dc:
        code, out, err = audit(dc, None, "--ldap-url", "ldaps://localhost", "--ldap-auth", "gssapi",
                               "--ca-file", dc.ca_file)  # fmt: skip
        assert code == 3 and out == ""
        line = one_error_line(err)
        assert "even over TLS" in line and "--ldap-auth simple" in line and "allow_sasl_over_tls" in line
        code, _, err = audit(dc, monkeypatch, "--ldap-url", dc.ldaps_url, "--ca-file", dc.ca_file,
                             "--ldap-auth", "ntlm", "--bind-dn", "CORP\\svc-ccmig", password=dc.password)
        assert code == 3 and "even over TLS" in one_error_line(err)


def test_kerberos_without_a_ticket_says_kinit(demo_dc, tmp_path, monkeypatch):
    monkeypatch.setenv("KRB5_CONFIG", demo_dc.krb5_config)
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{tmp_path / 'empty-cache'}")
    code, _, err = audit(demo_dc, None, "--ldap-url", "ldaps://localhost", "--ldap-auth", "gssapi",
                         "--ca-file", demo_dc.ca_file)  # fmt: skip
    assert code == 3 and "kinit" in one_error_line(err)


def test_without_the_gssapi_package_one_line_says_what_to_install(demo_dc, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "gssapi" else real(name, *a))
    code, _, err = audit(demo_dc, None, "--ldap-url", "ldaps://localhost", "--ldap-auth", "gssapi")
    assert code == 2
    line = one_error_line(err)
    assert "pip install 'ccmig[kerberos]'" in line and "libkrb5-dev" in line


# ---------------------------------------------------------------- NTLM


@pytest.mark.parametrize("transport", [("--ldap-url", "ldaps://127.0.0.1"),
                                       ("--ldap-url", "ldap://127.0.0.1", "--starttls")])
def test_ntlm_over_tls_gives_the_same_rows(demo_dc, monkeypatch, transport):
    code, out, err = audit(demo_dc, monkeypatch, *transport, "--ldap-auth", "ntlm", "--bind-dn",
                           "CORP\\svc-ccmig", "--ca-file", demo_dc.ca_file,
                           password=demo_dc.password)  # fmt: skip
    assert code == 0, err
    assert rows_of(out) == rows_of(offline_audit(DEMO))
    assert demo_dc.password not in out + err


def test_ldap3_sicily_ntlm_is_what_samba_cuts_off(demo_dc):
    """Why ccmig does not use ldap3's NTLM: Samba has no Sicily bind and drops the connection."""
    server = ldap3.Server("127.0.0.1", port=636, use_ssl=True, get_info=ldap3.NONE,
                          tls=ldap3.Tls(ca_certs_file=demo_dc.ca_file))  # fmt: skip
    conn = ldap3.Connection(server, user="CORP\\svc-ccmig", password="0" * 32 + ":" + "0" * 32,
                            authentication=ldap3.NTLM, raise_exceptions=False)  # fmt: skip
    with pytest.raises(ldap3.core.exceptions.LDAPSessionTerminatedByServerError):
        conn.bind()


def test_ntlm_on_plain_ldap_names_tls_as_the_fix(demo_dc, monkeypatch):
    code, out, err = audit(demo_dc, monkeypatch, "--ldap-url", demo_dc.url, "--allow-unencrypted",
                           "--ldap-auth", "ntlm", "--bind-dn", "CORP\\svc-ccmig", password=demo_dc.password)
    assert code == 3 and out == ""
    line = one_error_line(err)
    assert "signing" in line and "--starttls" in line and demo_dc.password not in err


def test_ntlm_wrong_password(demo_dc, monkeypatch):
    code, _, err = audit(demo_dc, monkeypatch, "--ldap-url", demo_dc.ldaps_url, "--ca-file", demo_dc.ca_file,
                         "--ldap-auth", "ntlm", "--bind-dn", "CORP\\svc-ccmig", password=WRONG_PASSWORD)
    assert code == 3
    line = one_error_line(err)
    assert "wrong user name or password" in line and WRONG_PASSWORD not in err


# ---------------------------------------------------------------- the server's refusals


def test_clear_text_simple_bind_is_refused_by_the_server(demo_dc, monkeypatch):
    # --allow-unencrypted lets ccmig try; AD itself says no ("Transport encryption required").
    code, out, err = audit(demo_dc, monkeypatch, "--ldap-url", demo_dc.url, "--allow-unencrypted",
                           "--bind-dn", demo_dc.bind_dn, password=demo_dc.password)  # fmt: skip
    assert code == 3 and out == ""
    line = one_error_line(err)
    assert "without TLS" in line and "ldaps://" in line and "--starttls" in line
    assert "Transport encryption required" in line


def test_wrong_password_is_one_line_without_the_password(demo_dc, monkeypatch):
    code, out, err = audit(demo_dc, monkeypatch, "--ldap-url", demo_dc.ldaps_url, "--ca-file",
                           demo_dc.ca_file, "--bind-dn", demo_dc.bind_dn, password=WRONG_PASSWORD)
    assert code == 3 and out == ""
    line = one_error_line(err)
    assert "wrong user name or password" in line and "data 52e" in line
    assert WRONG_PASSWORD not in err


def test_a_reader_without_rights_is_refused_in_one_line(demo_dc):
    # AD lets anonymous bind but not search: the server's own "no read rights" answer.
    code, out, err = audit(demo_dc, None, "--ldap-url", demo_dc.ldaps_url, "--ca-file", demo_dc.ca_file,
                           "--ldap-auth", "anonymous")  # fmt: skip
    assert code == 3 and out == ""
    line = one_error_line(err)
    assert "--bind-dn" in line and "after 0 entries" in line


def test_certificate_that_does_not_verify_names_ca_file(demo_dc, monkeypatch):
    code, out, err = audit(demo_dc, monkeypatch, "--ldap-url", demo_dc.ldaps_url, "--bind-dn",
                           demo_dc.bind_dn, password=demo_dc.password)  # fmt: skip
    assert code == 3 and out == ""
    line = one_error_line(err)
    assert "CERTIFICATE_VERIFY_FAILED" in line and "--ca-file" in line and "--insecure-skip-verify" in line


def test_insecure_skip_verify_reads_but_warns(demo_dc, monkeypatch):
    code, out, err = audit(demo_dc, monkeypatch, "--ldap-url", demo_dc.ldaps_url, "--insecure-skip-verify",
                           "--bind-dn", demo_dc.bind_dn, password=demo_dc.password)  # fmt: skip
    assert code == 0, err
    assert "verification is OFF" in err
    assert rows_of(out) == rows_of(live_audit(demo_dc, monkeypatch, DEMO, "--ldap-url", demo_dc.ldaps_url))


# ---------------------------------------------------------------- the delegated service account


def test_service_account_is_delegated_not_an_admin(demo_dc):
    """It may write proxyAddresses (the delegation) and nothing else."""
    server = ldap3.Server("127.0.0.1", port=636, use_ssl=True, get_info=ldap3.NONE,
                          tls=ldap3.Tls(ca_certs_file=demo_dc.ca_file))  # fmt: skip
    conn = ldap3.Connection(server, demo_dc.bind_dn, demo_dc.password, auto_bind=True)
    conn.search(demo_dc.base_dn, "(&(objectClass=contact)(proxyAddresses=ccmail:*))", attributes=["cn"],
                size_limit=1)  # fmt: skip
    target = conn.response[0]["dn"]
    probe = "X400:c=US;a= ;p=Corp;o=Probe;s=ccmig;"
    assert conn.modify(target, {"proxyAddresses": [(ldap3.MODIFY_ADD, [probe])]}), conn.result
    assert conn.modify(target, {"proxyAddresses": [(ldap3.MODIFY_DELETE, [probe])]}), conn.result
    assert not conn.modify(target, {"displayName": [(ldap3.MODIFY_REPLACE, ["changed"])]})
    assert conn.result["result"] == 50  # insufficientAccessRights
    assert not conn.delete(target) and conn.result["result"] == 50
    conn.unbind()
