"""Every finding code and rule of spec.md, driven through the CLI on real files."""

from __future__ import annotations

from tests.orgkit import (
    CONNECTOR,
    audit,
    by_name,
    codes,
    contact,
    entry,
    group,
    mail_user,
    mailbox,
    podir,
)


def migrated(name: str, old_po: str = "PO1", new_name: str | None = None):
    return mailbox(name, f"SMTP:{name.split(',')[0].lower()}@corp.example",
                   f"CCMAIL:{new_name or name} at EXCH", f"ccmail:{name} at {old_po}")


# --------------------------------------------------------------------------- lifecycle


def test_kb_lifecycle_states(org):
    """Stale -> awaiting-dirsync -> complete, and a cc:Mail user not migrated."""
    org.objects = [migrated("Smith, John"), migrated("Doe, Jane"), migrated("Roe, Rick")]
    org.dirs = {
        "HUBPO": podir("HUBPO", CONNECTOR, entry("Roe, Rick", "r", "EXCH")),
        "PO1": podir("PO1", entry("Smith, John", "L", messages=10), entry("Lee, Ann", "L")),
    }
    rows = by_name(audit(org))
    assert codes(rows["Smith, John"]) == ["stale-ccmail-mailbox"]
    assert rows["Smith, John"]["route"] == "ccmail-mailbox"
    assert rows["Smith, John"]["old_post_office"] == "PO1"
    assert rows["Smith, John"]["ccmail_name"] == "Smith, John"
    assert codes(rows["Doe, Jane"]) == ["awaiting-dirsync"]
    assert rows["Doe, Jane"]["route"] == "undeliverable"
    assert rows["Roe, Rick"]["status"] == "complete"
    assert rows["Roe, Rick"]["route"] == "exchange"
    user = rows["ccmail:lee, ann@po1"]
    assert user == {
        "key": "ccmail:lee, ann@po1", "dn": None, "kind": "ccmail-user",
        "ccmail_name": "Lee, Ann", "old_post_office": "PO1", "route": "ccmail-mailbox",
        "status": "not-migrated", "findings": user["findings"],
    }
    assert codes(user) == ["not-migrated"]
    assert user["findings"][0]["severity"] == "info"
    assert "ccmail:smith, john@po1" not in rows  # the mailbox owns that address


def test_row_shape_and_sorting(org):
    org.objects = [migrated("Zed, Zoe"), migrated("Abe, Al")]
    org.dirs = {"PO1": podir("PO1", entry("Mid, Max"))}
    rows = audit(org)
    assert [r["key"] for r in rows] == sorted(r["key"] for r in rows)
    assert [r["key"] for r in rows] == [
        "ccmail:mid, max@po1",
        "dn:cn=abe\\, al,ou=staff,dc=corp,dc=example",
        "dn:cn=zed\\, zoe,ou=staff,dc=corp,dc=example",
    ]
    assert rows[1]["dn"] == "CN=Abe\\, Al,OU=Staff,DC=corp,DC=example"
    assert set(rows[0]) == {"key", "dn", "kind", "ccmail_name", "old_post_office", "route",
                            "status", "findings"}
    assert set(rows[0]["findings"][0]) == {"code", "severity", "message", "action"}


def test_objects_without_ccmail_values_have_no_row(org):
    org.objects = [mailbox("Plain, Pat", "SMTP:pat@corp.example"), migrated("Abe, Al")]
    rows = by_name(audit(org))
    assert set(rows) == {"Abe, Al"}


# --------------------------------------------------------------------------- grammar


def test_at_inside_name_splits_at_last_at(org):
    org.objects = [mailbox("Cole, At", "CCMAIL:Cole, At at EXCH", "ccmail:Cole, At AT PO1")]
    org.dirs = {"PO1": podir("PO1", entry("Cole, At"))}
    row = by_name(audit(org))["Cole, At"]
    assert row["ccmail_name"] == "Cole, At"
    assert row["old_post_office"] == "PO1"
    assert codes(row) == ["stale-ccmail-mailbox"]


def test_upper_case_AT_and_folded_spaces(org):
    org.objects = [mailbox("Smith, John", "CCMAIL:Smith,   John  AT  EXCH",
                           "ccmail:  SMITH, john at po1 ")]
    org.dirs = {"PO1": podir("PO1", entry("smith,  JOHN"))}
    row = by_name(audit(org))["Smith, John"]
    assert row["ccmail_name"] == "Smith, John"
    assert row["old_post_office"] == "po1"
    assert codes(row) == ["stale-ccmail-mailbox"]


def test_mixed_case_type_is_not_primary(org):
    org.objects = [mailbox("Mix, Max", "ccMail:Mix, Max at EXCH", "ccmail:Mix, Max at PO1")]
    row = by_name(audit(org))["Mix, Max"]
    assert codes(row) == ["missing-primary-address", "awaiting-dirsync"]
    # No primary: the cc:Mail name is the first old address's name.
    assert row["ccmail_name"] == "Mix, Max"


def test_invalid_values_of_every_kind(org):
    bad = ["CCMAIL:No Separator", "ccmail: at PO1", "ccmail:Empty Po at ", 'ccmail:Quo"te at PO1',
           "ccmail:Brack[et] at PO1", "ccmail:Ctrl\x07Char at PO1", "ccmail:Accent at PÖ1",
           "ccmail:Space at PO 1"]
    org.objects = [mailbox(f"Bad{i}", "CCMAIL:Good" + str(i) + " at EXCH", v)
                   for i, v in enumerate(bad)]
    rows = by_name(audit(org))
    for i, value in enumerate(bad):
        row = rows[f"Bad{i}"]
        assert codes(row)[0] == "invalid-address", value
        assert row["status"] == "invalid-address"
        assert value in row["findings"][0]["message"]
        # Invalid values take part in no other rule: no old address, so no old PO.
        assert row["old_post_office"] is None


def test_invalid_value_only_still_gives_a_row(org):
    org.objects = [mailbox("Only, Bad", "ccmail:Only Bad")]
    row = by_name(audit(org))["Only, Bad"]
    assert codes(row) == ["invalid-address"]
    assert row["ccmail_name"] is None
    assert row["route"] == "undeliverable"


def test_slash_escapes_not_interpreted(org):
    org.objects = [migrated("O/'Brien, Pat")]
    org.dirs = {"PO1": podir("PO1", entry("O/'Brien, Pat"))}
    row = by_name(audit(org))["O/'Brien, Pat"]
    assert codes(row) == ["stale-ccmail-mailbox"]


# --------------------------------------------------------------------------- directory


def test_R_with_empty_addr_is_at_file_po_and_aliases_ignored(org):
    org.objects = [migrated("Ray, Ron"), migrated("Ali, Abe")]
    org.dirs = {"PO2": podir("PO2", entry("Ray, Ron", "R", ""), entry("Ali, Abe", "A", "PO1"),
                             entry("Ali, Abe", "a"))}
    rows = by_name(audit(org))
    ray = rows["Ray, Ron"]
    assert codes(ray) == ["stale-ccmail-mailbox", "missing-secondary-address"]
    assert "PO2" in ray["findings"][1]["message"]
    assert codes(rows["Ali, Abe"]) == ["awaiting-dirsync"]


def test_remote_pointer_in_other_po_makes_stale(org):
    org.objects = [migrated("Ptr, Pia")]
    org.dirs = {"PO2": podir("PO2", entry("Ptr, Pia", "r", "PO1 PIA"))}
    row = by_name(audit(org))["Ptr, Pia"]
    assert codes(row) == ["stale-ccmail-mailbox"]  # the pointer's PO (PO1) is an old address
    assert row["route"] == "ccmail-mailbox"


def test_old_address_with_different_name(org):
    org.objects = [migrated("Smith, Jon", new_name="Smith, Jonathan")]
    org.dirs = {"PO1": podir("PO1", entry("Smith, Jon", messages=5)),
                "HUBPO": podir("HUBPO", entry("Smith, Jonathan", "r", "EXCH"))}
    row = by_name(audit(org))["Smith, Jon"]
    assert row["ccmail_name"] == "Smith, Jonathan"
    assert codes(row) == ["stale-ccmail-mailbox"]
    assert "Smith, Jon'" in row["findings"][0]["message"]


def test_dirsync_entry_routes_to_exchange_after_deletion(org):
    org.objects = [migrated("Smith, Jon", new_name="Smith, Jonathan")]
    org.dirs = {"HUBPO": podir("HUBPO", entry("Smith, Jonathan", "r", "EXCH"))}
    row = by_name(audit(org))["Smith, Jon"]
    assert row["status"] == "complete"
    assert row["route"] == "exchange"


# --------------------------------------------------------------------------- cross-object


def test_duplicate_address_between_mailboxes_both_sides(org):
    org.objects = [mailbox("One", "CCMAIL:Same, Name at EXCH"),
                   mailbox("Two", "CCMAIL:SAME,  name at exch")]
    rows = by_name(audit(org))
    for me, other in (("One", "Two"), ("Two", "One")):
        assert codes(rows[me])[0] == "duplicate-address"
        assert f"CN={other}," in rows[me]["findings"][0]["message"]
        assert "name-conflict" not in codes(rows[me])  # same address is not a name conflict


def test_orphan_custom_recipient_pair_is_not_a_duplicate(org):
    org.objects = [migrated("Orr, Olga"), contact("Orr Contact", "CCMAIL:Orr, Olga at PO1")]
    org.dirs = {"HUBPO": podir("HUBPO", entry("Orr, Olga", "r", "EXCH"))}
    rows = by_name(audit(org))
    assert codes(rows["Orr, Olga"]) == ["orphan-custom-recipient"]
    assert codes(rows["Orr Contact"]) == ["orphan-custom-recipient"]
    assert "CN=Orr Contact" in rows["Orr, Olga"]["findings"][0]["message"]
    assert "CN=Orr\\, Olga" in rows["Orr Contact"]["findings"][0]["message"]
    c = rows["Orr Contact"]
    assert (c["kind"], c["ccmail_name"], c["old_post_office"], c["route"]) == (
        "custom-recipient", "Orr, Olga", "PO1", None)


def test_orphan_via_proxy_and_mail_user(org):
    org.objects = [migrated("Pox, Pam"),
                   mail_user("Pox MEU", "SMTP:pam@elsewhere.example", "ccmail:Pox, Pam at PO1")]
    rows = by_name(audit(org))
    assert rows["Pox MEU"]["kind"] == "custom-recipient"
    assert codes(rows["Pox MEU"]) == ["orphan-custom-recipient"]


def test_two_custom_recipients_sharing_old_address_are_duplicates(org):
    org.objects = [migrated("Dup, Dan"), contact("C1", "CCMAIL:Dup, Dan at PO1"),
                   contact("C2", "CCMAIL:Dup, Dan at PO1")]
    rows = by_name(audit(org))
    assert codes(rows["C1"]) == ["duplicate-address", "orphan-custom-recipient"]
    assert "CN=C2" in rows["C1"]["findings"][0]["message"]
    assert "CN=Dup" not in rows["C1"]["findings"][0]["message"]
    assert "duplicate-address" not in codes(rows["Dup, Dan"])
    assert "orphan-custom-recipient" in codes(rows["Dup, Dan"])


def test_mailbox_primary_shared_with_contact_is_duplicate(org):
    org.objects = [migrated("Pri, Pat"), contact("PC", "CCMAIL:Pri, Pat at EXCH")]
    rows = by_name(audit(org))
    assert codes(rows["PC"])[0] == "duplicate-address"
    assert codes(rows["Pri, Pat"])[0] == "duplicate-address"


def test_group_and_mailbox_duplicate(org):
    org.objects = [migrated("Grp, Gus"), group("Team", "CCMAIL:Grp, Gus at EXCH")]
    rows = by_name(audit(org))
    assert codes(rows["Team"]) == ["duplicate-address"]
    assert rows["Team"]["route"] is None and rows["Team"]["old_post_office"] is None


def test_name_conflict_case_only(org):
    org.objects = [mailbox("A1", "CCMAIL:Smith, John at EX1"),
                   mailbox("A2", "CCMAIL:SMITH, John at EX2")]
    rows = by_name(audit(org, "--exchange-po", "EX2", exchange_po="EX1"))
    assert codes(rows["A1"])[0] == "name-conflict"
    assert "SMITH, John at EX2" in rows["A1"]["findings"][0]["message"]
    assert codes(rows["A2"])[0] == "name-conflict"


def test_name_conflict_not_for_orphan_pair(org):
    # Contact's primary is its target at PO1; mailbox primary at EXCH: same name,
    # different addresses, but they are an orphan pair.
    org.objects = [migrated("Nam, Ned"), contact("NC", "CCMAIL:Nam, Ned at PO1")]
    rows = by_name(audit(org))
    assert "name-conflict" not in codes(rows["Nam, Ned"])
    assert "name-conflict" not in codes(rows["NC"])


def test_name_conflict_contact_elsewhere(org):
    org.objects = [migrated("Nam, Ned"), contact("NC", "CCMAIL:Nam, Ned at PO7")]
    rows = by_name(audit(org))
    assert codes(rows["NC"]) == ["name-conflict"]
    assert codes(rows["Nam, Ned"])[0] == "name-conflict"


# --------------------------------------------------------------------------- per mailbox


def test_missing_primary_when_primary_not_at_x(org):
    org.objects = [mailbox("Pee, Po", "CCMAIL:Pee, Po at PO1")]
    org.dirs = {"HUBPO": podir("HUBPO", CONNECTOR)}
    row = by_name(audit(org, exchange_po=""))["Pee, Po"]  # X inferred from connector
    assert codes(row) == ["missing-primary-address", "awaiting-dirsync"]
    assert row["old_post_office"] == "PO1"


def test_lower_case_value_at_x_is_neither_primary_nor_old(org):
    org.objects = [mailbox("Low, Lu", "ccmail:Low, Lu at EXCH")]
    row = by_name(audit(org))["Low, Lu"]
    assert codes(row) == ["missing-primary-address"]
    assert row["ccmail_name"] is None and row["old_post_office"] is None
    assert row["route"] == "undeliverable"


def test_multiple_primaries_last_wins(org):
    org.objects = [mailbox("Mul, Mo", "CCMAIL:Mul, Mo at PO1", "CCMAIL:Mul, Mo at EXCH",
                           "ccmail:Mul, Mo at PO1")]
    org.dirs = {"HUBPO": podir("HUBPO", entry("Mul, Mo", "R", "EXCH"))}
    row = by_name(audit(org))["Mul, Mo"]
    assert codes(row) == ["multiple-primaries"]
    assert "Mul, Mo at EXCH" in row["findings"][0]["message"]
    assert row["route"] == "exchange"


def test_multiple_primaries_ignores_invalid_and_targets(org):
    org.objects = [mailbox("Mu2", "CCMAIL:Mu2 at EXCH", "CCMAIL:bad", target="CCMAIL:Mu2 at PO1")]
    row = by_name(audit(org))["Mu2"]
    assert "multiple-primaries" not in codes(row)
    assert row["old_post_office"] == "PO1"  # a mailbox's target counts as a lower-case proxy


def test_missing_secondary_address(org):
    org.objects = [migrated("Sec, Sue")]
    org.dirs = {"PO1": podir("PO1", entry("Sec, Sue")),
                "PO3": podir("PO3", entry("Sec, Sue", messages=2))}
    row = by_name(audit(org))["Sec, Sue"]
    assert codes(row) == ["stale-ccmail-mailbox", "missing-secondary-address"]
    assert "PO3" in row["findings"][1]["message"]
    assert "PO1" not in row["findings"][1]["message"].split("has no old")[1].split("where")[0]


def test_unconfirmed_migration_sums_messages(org, tmp_path):
    org.objects = [migrated("Unc, Una"), migrated("Ok, Olly"), migrated("Nk, Nick")]
    org.dirs = {"PO1": podir("PO1", entry("Unc, Una", messages=30), entry("Ok, Olly", messages=5),
                             entry("Nk, Nick")),
                "PO2": podir("PO2", entry("Unc, Una", "r", "PO1", messages=20))}
    stats = tmp_path / "stats.csv"
    stats.write_text("identity,item_count\nUnc.Una,49\nok.olly,5\nNk.Nick,0\n")
    rows = by_name(audit(org, "--mailbox-stats", str(stats)))
    assert codes(rows["Unc, Una"]) == ["stale-ccmail-mailbox", "unconfirmed-migration"]
    assert "49" in rows["Unc, Una"]["findings"][1]["message"]
    assert "50" in rows["Unc, Una"]["findings"][1]["message"]
    assert codes(rows["Ok, Olly"]) == ["stale-ccmail-mailbox"]
    assert codes(rows["Nk, Nick"]) == ["stale-ccmail-mailbox"]  # no Messages known


def test_unconfirmed_needs_item_count(org):
    org.objects = [migrated("Unc, Una")]
    org.dirs = {"PO1": podir("PO1", entry("Unc, Una", messages=30))}
    assert codes(by_name(audit(org))["Unc, Una"]) == ["stale-ccmail-mailbox"]


def test_not_migrated_suppressed_by_primary_name_not_by_contacts(org):
    org.objects = [mailbox("Nm", "CCMAIL:Kim, Kay at EXCH"), contact("CC", "CCMAIL:Vee, Val at PO1")]
    org.dirs = {"PO2": podir("PO2", entry("Kim, Kay"), entry("Vee, Val", "L"),
                             entry("Vee, Val", "l"))}
    rows = by_name(audit(org))
    assert "ccmail:kim, kay@po2" not in rows  # the mailbox's primary name
    assert codes(rows["ccmail:vee, val@po2"]) == ["not-migrated"]  # one row per (name, PO)
    assert codes(rows["Nm"]) == ["stale-ccmail-mailbox", "missing-secondary-address"]


def test_fail_on_thresholds(org):
    from tests.orgkit import ccmig

    org.objects = [migrated("Doe, Jane")]  # awaiting-dirsync: a warning
    args = ["audit", *org.write(), "--exchange-po", "EXCH"]
    assert ccmig(*args)[0] == 1
    assert ccmig(*args, "--fail-on", "error")[0] == 0
    assert ccmig(*args, "--fail-on", "info")[0] == 1
    assert ccmig(*args, "--fail-on", "never")[0] == 0


def test_exchange55_dialect(org):
    from tests.orgkit import Obj

    def person(cn, *other, cls="organizationalPerson"):
        attrs = [("objectClass", "top"), ("objectClass", cls), ("cn", cn), ("uid", cn.lower())]
        return Obj(f"cn={cn},ou=Recipients,o=Corp", attrs + [("otherMailbox", o) for o in other])

    org.objects = [
        person("jd", "CCMAIL$Doe, John at PO1", "ccmail$Doe, John at EXCH", "X400$c=US"),
        person("rr", "CCMAIL$Rem, Ray at PO1", cls="remote-address"),
        person("dup", "CCMAIL$Doe, John at EXCH", "CCMAIL$Doe, J at EXCH"),
    ]
    org.objects[1].attrs.append(("Target-Address", "CCMAIL:Rem, Ray at PO1"))
    org.dirs = {"PO1": podir("PO1", entry("Doe, John"))}
    rows = audit(org, "--dialect", "exchange55")
    got = {r["dn"].split(",")[0]: r for r in rows}
    jd = got["cn=jd"]
    assert jd["ccmail_name"] == "Doe, John"  # first address at X, whatever its case
    assert codes(jd) == ["duplicate-address", "stale-ccmail-mailbox"]
    assert "multiple-primaries" not in codes(got["cn=dup"])  # AD-only rule
    rr = got["cn=rr"]
    assert (rr["kind"], rr["old_post_office"], rr["status"]) == ("custom-recipient", "PO1",
                                                                 "complete")


def test_control_characters_are_checked_before_folding(org):
    """Issue 13, 8(c): TAB, CR, LF, NEL, VT, FF, \\x1c-\\x1f anywhere in name or
    PO make the value invalid, although folding white space would hide them."""
    bad = ["ccmail:Tab\tName at PO1", "ccmail:Trail, Cr at PO1\r", "ccmail:Nel\x85Name at PO1",
           "ccmail:Vt\x0bName at PO1", "ccmail:Ff\x0cName at PO1", "ccmail:Fs\x1cName at PO1",
           "ccmail:Us\x1fName at PO1", "ccmail:Line\nBreak at PO1", "ccmail:Po at P\tO1"]
    org.objects = [mailbox(f"Ctl{i}", f"CCMAIL:Ctl{i} at EXCH", v) for i, v in enumerate(bad)]
    rows = by_name(audit(org))
    for i, value in enumerate(bad):
        row = rows[f"Ctl{i}"]
        assert codes(row)[0] == "invalid-address", repr(value)
        assert "control character" in row["findings"][0]["message"], repr(value)
        assert row["old_post_office"] is None  # invalid values take part in no other rule


def test_a_primary_with_a_trailing_cr_is_lost(org):
    """The change existing users see: a base64 primary ending in CR is now
    invalid, so the mailbox has no primary at X and cannot be reached."""
    org.objects = [mailbox("Cr, Carl", "CCMAIL:Cr, Carl at EXCH\r", "ccmail:Cr, Carl at PO1")]
    org.dirs = {"HUBPO": podir("HUBPO", CONNECTOR, entry("Cr, Carl", "r", "EXCH"))}
    row = by_name(audit(org))["Cr, Carl"]
    assert codes(row) == ["invalid-address", "missing-primary-address"]
    assert row["route"] == "exchange"  # its cc:Mail name comes from the old address


def test_only_a_non_blank_target_makes_a_custom_recipient(org):
    """Issue 13, 8(d): a user without a mailbox is a custom recipient only
    with a non-blank targetAddress."""
    org.objects = [mail_user("Blank", " ", "CCMAIL:Blank at PO1"),
                   mail_user("Tabbed", "\t", "CCMAIL:Tabbed at PO1"),
                   mail_user("Real", "SMTP:real@example.com", "CCMAIL:Real at PO1")]
    rows = by_name(audit(org))
    assert set(rows) == {"Real"} and rows["Real"]["kind"] == "custom-recipient"


def test_ccmail_user_rows_with_equal_keys_keep_entry_order(org):
    """Keys "ccmail:" + name + "@" + PO can be equal for two rows when a name
    or PO holds an "@": both rows are made, in the order of their entries."""
    org.objects = [migrated("Abe, Al")]
    org.dirs = {"B@C": podir("B@C", entry("a", "L")), "C": podir("C", entry("a@b", "L"))}
    users = [r for r in audit(org) if r["kind"] == "ccmail-user"]
    assert [(r["key"], r["ccmail_name"], r["old_post_office"]) for r in users] == [
        ("ccmail:a@b@c", "a", "B@C"), ("ccmail:a@b@c", "a@b", "C")]
    org.dirs = {"C": org.dirs["C"], "B@C": org.dirs["B@C"]}  # files in the other order
    users = [r for r in audit(org) if r["kind"] == "ccmail-user"]
    assert [(r["ccmail_name"], r["old_post_office"]) for r in users] == [("a@b", "C"), ("a", "B@C")]
