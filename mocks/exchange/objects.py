"""Exchange-shaped objects and their CLIXML form.

Cmdlets build plain Python values (:class:`ExObject`, :class:`ExValue`,
:class:`ExCollection`, :class:`ExEnum`); :func:`to_clixml` turns them into
psrpcore objects with Exchange's real .NET type-name chains. That matters:
real Exchange sends ``EmailAddresses`` as a ``ProxyAddressCollection`` object
(type chain plus ``<LST>``), which pypsrp 0.9 does not turn into a list, so a
mock that sent a plain list would let a client pass tests that production
breaks. Unprojected objects carry dozens of properties, as Exchange's do, so
projection with ``Select-Object`` makes a measurable difference.
"""

from __future__ import annotations

import datetime
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from psrpcore.types import PSEnumBase, PSList, PSNoteProperty, PSObject, PSUInt
from toolkit.mocks.dn import parent_dn, rdns
from toolkit.mocks.exchange.enums import RecipientType, RecipientTypeDetails
from toolkit.mocks.exchange.organisation import MAIL_CONTACT, MAILBOX, Entry, Organisation

_DATA = "Microsoft.Exchange.Data"
_DIR = "Microsoft.Exchange.Data.Directory"
_MGMT = "Microsoft.Exchange.Data.Directory.Management"
_ASM = "Microsoft.Exchange.Data, Version=14.0.0.0, Culture=neutral, PublicKeyToken=31bf3856ad364e35"
_MSCORLIB = "mscorlib, Version=4.0.0.0, Culture=neutral, PublicKeyToken=b77a5c561934e089"

PROXY_COLLECTION_TYPES = (
    f"{_DATA}.ProxyAddressCollection",
    f"{_DATA}.ProxyAddressBaseCollection`1[[{_DATA}.ProxyAddress, {_ASM}]]",
    f"{_DATA}.MultiValuedProperty`1[[{_DATA}.ProxyAddress, {_ASM}]]",
    f"{_DATA}.MultiValuedPropertyBase",
    "System.Object",
)
STRING_MVP_TYPES = (
    f"{_DATA}.MultiValuedProperty`1[[System.String, {_MSCORLIB}]]",
    f"{_DATA}.MultiValuedPropertyBase",
    "System.Object",
)
_TAIL = (f"{_DIR}.ADPresentationObject", f"{_DATA}.ConfigurableObject", "System.Object")
REDUCED_RECIPIENT_TYPES = (f"{_MGMT}.ReducedRecipient", *_TAIL)
_MAIL_ENABLED = (f"{_MGMT}.MailEnabledOrgPerson", f"{_MGMT}.MailEnabledRecipient", *_TAIL)
MAILBOX_TYPES = (f"{_MGMT}.Mailbox", *_MAIL_ENABLED)
MAIL_CONTACT_TYPES = (f"{_MGMT}.MailContact", *_MAIL_ENABLED)
MAILBOX_STATISTICS_TYPES = (
    "Microsoft.Exchange.Management.MapiTasks.Presentation.MailboxStatistics",
    "Microsoft.Exchange.Management.MapiTasks.Presentation.StoreObject",
    f"{_DATA}.ConfigurableObject",
    "System.Object",
)
_AD_OBJECT_ID = (f"{_DIR}.ADObjectId", f"{_DATA}.ObjectId", "System.Object")
_BYTES = f"{_DATA}.ByteQuantifiedSize"
_UNLIMITED_BYTES = (f"{_DATA}.Unlimited`1[[{_BYTES}, {_ASM}]]", "System.ValueType", "System.Object")


# What PowerShell's serializer writes as _xHHHH_ (UTF-16 code units): C0 and C1
# controls, DEL, and characters outside the BMP (as their surrogate pair).
_UNSAFE = re.compile("[\u0000-\u001f\u007f-\u009f\ud800-\udfff\U00010000-\U0010ffff]")
_LITERAL_ESCAPE = re.compile("_(?=[xX])")


def clixml_text(value: str) -> str:
    """A string as PowerShell writes it into CLIXML: ``_x`` as ``_x005F_x``, then
    every control character (TAB, CR, LF and NEL included) as ``_xHHHH_``.

    psrpcore escapes ``<S>`` values this way but writes ``<ToString>`` as it
    is given; raw control characters are not even well-formed XML (pypsrp then
    hands the client the undecoded XML), so every ToString the mock sets passes
    through here.
    """
    value = _LITERAL_ESCAPE.sub("_x005F_", value)

    def units(match: re.Match[str]) -> str:
        data = match.group(0).encode("utf-16-be", "surrogatepass")
        return "".join(f"_x{data[i:i + 2].hex().upper()}_" for i in range(0, len(data), 2))

    return _UNSAFE.sub(units, value)


@dataclass
class ExObject:
    """A cmdlet's output object: type chain, ordered properties, ToString.

    ``extended`` marks note properties (``Select-Object`` output, sent under
    ``<MS>``); Exchange's own objects carry adapted properties (``<Props>``).
    """

    type_names: tuple[str, ...]
    props: dict[str, Any]
    to_string: str | None = None
    extended: bool = False

    def find(self, name: str) -> tuple[str, Any] | None:
        """(real name, value) of a property, matched case-insensitively."""
        if name in self.props:
            return name, self.props[name]
        low = name.lower()
        for key, value in self.props.items():
            if key.lower() == low:
                return key, value
        return None


@dataclass
class ExValue:
    """A typed value Exchange shows by its ToString (ADObjectId, SmtpAddress...)."""

    type_names: tuple[str, ...]
    to_string: str
    props: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.to_string


@dataclass
class ExCollection:
    """A .NET collection with its own type chain (MultiValuedProperty...)."""

    type_names: tuple[str, ...]
    items: list[Any]

    def __str__(self) -> str:
        return " ".join(str(i) for i in self.items)


@dataclass
class ExEnum:
    """An enum value by name; :func:`to_clixml` picks the psrpcore enum."""

    enum: type[PSEnumBase]
    name: str

    def __str__(self) -> str:
        return self.name


def to_clixml(value: Any, depth: int = 1) -> Any:
    """The psrpcore value that serialises as Exchange would send ``value``.

    ``depth`` follows PowerShell's remoting serializer (default depth 1): an
    output object's properties are written, but a complex property value
    whose depth is used up travels as its ToString string; a collection
    keeps its type chain and ``<LST>``, its items as strings; enums keep
    their type and name.
    """
    if isinstance(value, ExObject | ExValue):
        if depth <= 0:
            return value.to_string if value.to_string is not None else value.type_names[0]
        obj = PSObject()
        obj.PSObject.type_names = list(value.type_names)
        props = [PSNoteProperty(k, to_clixml(v, depth - 1)) for k, v in value.props.items()]
        if isinstance(value, ExObject) and value.extended:
            obj.PSObject.extended_properties = props
        else:
            obj.PSObject.adapted_properties = props
        if value.to_string is not None:
            obj.PSObject.to_string = clixml_text(value.to_string)
        return obj
    if isinstance(value, ExCollection):
        items = PSList([to_clixml(i, depth - 1) for i in value.items])
        items.PSObject.type_names = list(value.type_names)
        return items
    if isinstance(value, ExEnum):
        return value.enum[value.name]
    if isinstance(value, list | tuple):
        return PSList([to_clixml(i, depth - 1) for i in value])
    if depth < 0 and isinstance(value, datetime.datetime | datetime.timedelta | uuid.UUID):
        return str(value)
    return value


# -- value builders ------------------------------------------------------------


def ad_object_id(org: Organisation, dn: str, guid: uuid.UUID | None = None,
                 to_string: str | None = None) -> ExValue:
    parts = rdns(dn)
    return ExValue(_AD_OBJECT_ID, to_string or org.canonical_name(dn), {
        "IsDeleted": False,
        "Rdn": f"{parts[0][0]}={parts[0][1]}" if parts else dn,
        "Parent": org.canonical_name(parent_dn(dn)) if parent_dn(dn) else None,
        "Depth": len(parts),
        "DistinguishedName": dn,
        "IsRelativeDn": False,
        "DomainId": org.domain,
        "ObjectGuid": guid or uuid.UUID(int=0),
        "Name": parts[0][1] if parts else dn,
    })


def smtp_address(address: str | None) -> ExValue | None:
    if not address:
        return None
    local, _, domain = address.rpartition("@")
    return ExValue((f"{_DATA}.SmtpAddress", "System.ValueType", "System.Object"), address, {
        "Local": local, "Domain": domain, "Length": len(address), "IsValidAddress": bool(local),
    })


def proxy_address(value: str | None) -> ExValue | None:
    """One ProxyAddress (ExternalEmailAddress): SMTP or custom type."""
    if not value:
        return None
    prefix, _, address = value.partition(":")
    kind = "SmtpProxyAddress" if prefix.upper() == "SMTP" else "CustomProxyAddress"
    types = (f"{_DATA}.{kind}", f"{_DATA}.ProxyAddress", f"{_DATA}.ProxyAddressBase",
             "System.Object")
    return ExValue(types, value, {
        "AddressString": address, "IsPrimaryAddress": prefix.isupper(),
        "PrefixString": prefix.upper(), "ProxyAddressString": value,
    })


def proxy_collection(values: list[str]) -> ExCollection:
    return ExCollection(PROXY_COLLECTION_TYPES, list(values))


def strings(values: list[str]) -> ExCollection:
    return ExCollection(STRING_MVP_TYPES, list(values))


def byte_size(count: int) -> ExValue:
    """ByteQuantifiedSize as Exchange prints it: ``1.5 MB (1,572,864 bytes)``."""
    value, unit = float(count), "B"
    for next_unit in ("KB", "MB", "GB", "TB"):
        if value < 1024:
            break
        value, unit = value / 1024, next_unit
    shown = f"{value:.3f}".rstrip("0").rstrip(".")
    return ExValue((_BYTES, "System.ValueType", "System.Object"),
                   f"{shown} {unit} ({count:,} bytes)")


def unlimited() -> ExValue:
    return ExValue(_UNLIMITED_BYTES, "Unlimited", {"IsUnlimited": True, "Value": None})


# -- recipient objects -----------------------------------------------------------

_EPOCH = datetime.datetime(2001, 6, 1, 9, 30, tzinfo=datetime.UTC)
_ZERO = uuid.UUID(int=0)
_NO_MOVE = "None"


def _mv(values: list[str] | None = None) -> ExCollection:
    return strings(list(values or []))


def _common(e: Entry, org: Organisation) -> dict[str, Any]:
    """Properties every recipient view shares (Exchange 2010 names).

    Real Exchange objects carry about a hundred properties (Get-Mailbox
    closer to two hundred); most are empty or default, as here, but they
    all travel unless the client projects with ``Select-Object``.
    """
    identity = ad_object_id(org, e.dn, e.guid)
    parent = parent_dn(e.dn) or e.dn
    hidden = (e.text("msexchhidefromaddresslists") or "").upper() == "TRUE"
    created = _EPOCH + datetime.timedelta(minutes=e.created)
    props: dict[str, Any] = {
        "AddressListMembership": strings(["\\Default Global Address List"] if not hidden else []),
        "Alias": e.alias,
        "City": e.text("l"),
        "Company": e.text("company"),
        "CountryOrRegion": e.text("co"),
        **{f"CustomAttribute{i}": e.text(f"extensionattribute{i}") or "" for i in range(1, 16)},
        "Department": e.text("department"),
        "DisplayName": e.text("displayname") or e.name,
        "DistinguishedName": e.dn,
        "EmailAddresses": proxy_collection(e.texts("proxyaddresses")),
        "EmailAddressPolicyEnabled": e.policy_enabled,
        "ExchangeObjectId": e.guid,
        "ExchangeVersion": "0.10 (14.0.100.0)",
        **{f"ExtensionCustomAttribute{i}": _mv() for i in range(1, 6)},
        "ExternalDirectoryObjectId": "",
        "ExternalEmailAddress": proxy_address(e.target),
        "FirstName": e.text("givenname"),
        "Guid": e.guid,
        "HiddenFromAddressListsEnabled": hidden,
        "Id": identity,
        "Identity": identity,
        "IsDirSynced": False,
        "IsValid": True,
        "LastName": e.text("sn"),
        "LegacyExchangeDN": e.text("legacyexchangedn"),
        "MailboxMoveBatchName": "",
        "MailboxMoveFlags": _NO_MOVE,
        "MailboxMoveRemoteHostName": "",
        "MailboxMoveSourceMDB": None,
        "MailboxMoveStatus": _NO_MOVE,
        "MailboxMoveTargetMDB": None,
        "Name": e.name,
        "ObjectCategory": ad_object_id(org, f"CN=Person,CN=Schema,CN=Configuration,DC={org.domain}"),
        "ObjectClass": strings(e.texts("objectclass")),
        "ObjectState": "Unchanged",
        "Office": e.text("physicaldeliveryofficename"),
        "OrganizationalUnit": org.canonical_name(parent),
        "OrganizationId": "",
        "OriginatingServer": org.domain_controller,
        "PoliciesExcluded": strings([]),
        "PoliciesIncluded": strings([]),
        "PrimarySmtpAddress": smtp_address(e.primary_smtp),
        "RecipientType": ExEnum(RecipientType, e.recipient_type),
        "RecipientTypeDetails": ExEnum(RecipientTypeDetails, e.type_details),
        "SamAccountName": e.text("samaccountname"),
        "Title": e.text("title"),
        "UsageLocation": None,
        "UserPrincipalName": e.text("userprincipalname"),
        "WhenChanged": created,
        "WhenChangedUTC": created,
        "WhenCreated": created,
        "WhenCreatedUTC": created,
        "WindowsEmailAddress": smtp_address(e.text("mail")),
        "WindowsLiveID": "",
    }
    return props


def _database(e: Entry, org: Organisation) -> ExValue | None:
    home = e.text("homemdb")
    if not home:
        return None
    name = rdns(home)[0][1] if rdns(home) else home
    return ad_object_id(org, home, None, to_string=name)


def _server_legacy_dn(org: Organisation) -> str:
    return ("/o=Corp/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Configuration/"
            f"cn=Servers/cn={org.server}")


def reduced_recipient(e: Entry, org: Organisation) -> ExObject:
    """What ``Get-Recipient`` outputs for any recipient type (~100 properties)."""
    props = _common(e, org)
    mailbox = e.recipient_type == MAILBOX
    props.update({
        "ArchiveDatabase": None,
        "ArchiveGuid": _ZERO,
        "ArchiveRelease": "",
        "ArchiveState": "None",
        "ArchiveStatus": "None",
        "AuthenticationType": None,
        "Capabilities": strings([]),
        "Database": _database(e, org),
        "ExchangeGuid": e.guid if mailbox else _ZERO,
        "ExpansionServer": "",
        "HasActiveSyncDevicePartnership": False,
        "IsValidSecurityPrincipal": e.recipient_type in (MAILBOX, "MailUser"),
        "LastExchangeChangedTime": None,
        "MailboxRelease": "",
        "ManagedBy": strings([]),
        "Manager": e.text("manager"),
        "Notes": e.text("info"),
        "OwnerId": None,
        "Phone": e.text("telephonenumber"),
        "PostalCode": e.text("postalcode"),
        "ResourceType": None,
        "ServerLegacyDN": _server_legacy_dn(org) if mailbox else None,
        "ServerName": org.server.lower() if mailbox else None,
        "SKUAssigned": None,
        "StateOrProvince": e.text("st"),
        "StorageGroupName": None,
        "UMEnabled": False,
        "UMMailboxPolicy": None,
        "UMRecipientDialPlanId": None,
    })
    return ExObject(REDUCED_RECIPIENT_TYPES, dict(sorted(props.items())), str(props["Identity"]))


def _unlimited_quotas(*names: str) -> dict[str, Any]:
    return {name: unlimited() for name in names}


def mailbox(e: Entry, org: Organisation) -> ExObject:
    """What ``Get-Mailbox`` outputs: the recipient view plus mailbox settings (~180)."""
    props = _common(e, org)
    for name in ("City", "Company", "CountryOrRegion", "Department", "FirstName", "LastName",
                 "Title"):  # Get-User's, not Get-Mailbox's
        props.pop(name, None)
    props.update({
        **{name: strings([]) for name in (
            "AcceptMessagesOnlyFrom", "AcceptMessagesOnlyFromDLMembers",
            "AcceptMessagesOnlyFromSendersOrMembers", "ArchiveName", "AuditAdmin",
            "AuditDelegate", "AuditOwner", "BypassModerationFromSendersOrMembers",
            "GrantSendOnBehalfTo", "Languages", "MailTipTranslations", "ModeratedBy",
            "ProtocolSettings", "RejectMessagesFrom", "RejectMessagesFromDLMembers",
            "RejectMessagesFromSendersOrMembers", "ResourceCustom", "UMDtmfMap")},
        **_unlimited_quotas("ArchiveQuota", "ArchiveWarningQuota", "CalendarLoggingQuota",
                            "IssueWarningQuota", "MaxReceiveSize", "MaxSendSize",
                            "ProhibitSendQuota", "ProhibitSendReceiveQuota",
                            "RecoverableItemsQuota", "RecoverableItemsWarningQuota",
                            "RulesQuota"),
        "AddressBookPolicy": None,
        "AdminDisplayVersion": "Version 14.3 (Build 123.4)",
        "AntispamBypassEnabled": False,
        "ArbitrationMailbox": None,
        "ArchiveDatabase": None,
        "ArchiveDomain": "",
        "ArchiveGuid": _ZERO,
        "ArchiveRelease": "",
        "ArchiveState": "None",
        "ArchiveStatus": "None",
        "AuditEnabled": False,
        "AuditLogAgeLimit": datetime.timedelta(days=90),
        "CalendarRepairDisabled": False,
        "CalendarVersionStoreDisabled": False,
        "Database": _database(e, org),
        "DeliverToMailboxAndForward": False,
        "DisabledArchiveDatabase": None,
        "DisabledArchiveGuid": _ZERO,
        "DowngradeHighPriorityMessagesEnabled": False,
        "EndDateForRetentionHold": None,
        "ExchangeGuid": e.guid,
        "ExchangeSecurityDescriptor": "System.Security.AccessControl.RawSecurityDescriptor",
        "ExchangeUserAccountControl": "None",
        "ExternalOofOptions": "External",
        "ForwardingAddress": None,
        "ForwardingSmtpAddress": None,
        "ImListMigrationCompleted": False,
        "IsLinked": False,
        "IsMailboxEnabled": True,
        "IsResource": False,
        "IsShared": e.type_details == "SharedMailbox",
        "LinkedMasterAccount": "",
        "LitigationHoldDate": None,
        "LitigationHoldEnabled": False,
        "LitigationHoldOwner": "",
        "MailTip": None,
        "MailboxPlan": None,
        "ManagedFolderMailboxPolicy": None,
        "MaxBlockedSenders": None,
        "MaxSafeSenders": None,
        "MessageTrackingReadStatusEnabled": True,
        "ModerationEnabled": False,
        "OfflineAddressBook": None,
        "PartnerObjectId": None,
        "QueryBaseDN": None,
        "QueryBaseDNRestrictionEnabled": False,
        "RecipientLimits": "Unlimited",
        "RemoteAccountPolicy": None,
        "RemoteRecipientType": "None",
        "RequireSenderAuthenticationEnabled": False,
        "ResetPasswordOnNextLogon": False,
        "ResourceCapacity": None,
        "ResourceType": None,
        "RetainDeletedItemsFor": datetime.timedelta(days=14),
        "RetainDeletedItemsUntilBackup": False,
        "RetentionComment": "",
        "RetentionHoldEnabled": False,
        "RetentionPolicy": None,
        "RetentionUrl": "",
        "RoleAssignmentPolicy": "Default Role Assignment Policy",
        "SCLDeleteEnabled": None,
        "SCLDeleteThreshold": None,
        "SCLJunkEnabled": None,
        "SCLJunkThreshold": None,
        "SCLQuarantineEnabled": None,
        "SCLQuarantineThreshold": None,
        "SCLRejectEnabled": None,
        "SCLRejectThreshold": None,
        "SendModerationNotifications": "Always",
        "ServerLegacyDN": _server_legacy_dn(org),
        "ServerName": org.server.lower(),
        "SharingPolicy": None,
        "SimpleDisplayName": "",
        "SingleItemRecoveryEnabled": False,
        "SKUAddonAssigned": strings([]),
        "SKUAssigned": None,
        "StartDateForRetentionHold": None,
        "ThrottlingPolicy": None,
        "UMEnabled": False,
        "UseDatabaseQuotaDefaults": True,
        "UseDatabaseRetentionDefaults": True,
        "WhenMailboxCreated": _EPOCH + datetime.timedelta(minutes=e.created),
    })
    return ExObject(MAILBOX_TYPES, dict(sorted(props.items())), str(props["Identity"]))


def mail_contact(e: Entry, org: Organisation) -> ExObject:
    """What ``Get-MailContact`` / ``New-MailContact`` output (~90 properties)."""
    props = _common(e, org)
    for name in ("City", "Company", "CountryOrRegion", "Department", "FirstName", "LastName",
                 "Office", "Title"):  # Get-Contact's, not Get-MailContact's
        props.pop(name, None)
    props.update({
        **{name: strings([]) for name in (
            "AcceptMessagesOnlyFrom", "AcceptMessagesOnlyFromDLMembers",
            "AcceptMessagesOnlyFromSendersOrMembers", "BypassModerationFromSendersOrMembers",
            "GrantSendOnBehalfTo", "MailTipTranslations", "ModeratedBy", "RejectMessagesFrom",
            "RejectMessagesFromDLMembers", "RejectMessagesFromSendersOrMembers", "UMDtmfMap")},
        "MacAttachmentFormat": "BinHex",
        "MailTip": None,
        "MaxReceiveSize": unlimited(),
        "MaxRecipientPerMessage": "Unlimited",
        "MaxSendSize": unlimited(),
        "MessageBodyFormat": "TextAndHtml",
        "MessageFormat": "Mime",
        "ModerationEnabled": False,
        "RequireSenderAuthenticationEnabled": False,
        "SendModerationNotifications": "Always",
        "SimpleDisplayName": "",
        "UseMapiRichTextFormat": "UseDefaultSettings",
        "UsePreferMessageFormat": False,
    })
    return ExObject(MAIL_CONTACT_TYPES, dict(sorted(props.items())), str(props["Identity"]))


def mailbox_statistics(e: Entry, org: Organisation) -> ExObject:
    """What ``Get-MailboxStatistics`` outputs (~45 properties; sizes derived from the count)."""
    count = e.item_count or 0
    legacy = (e.text("legacyexchangedn") or "").upper()
    database = _database(e, org)
    return ExObject(MAILBOX_STATISTICS_TYPES, {
        "AssociatedItemCount": 12,
        "BigFunnelIsEnabled": None,
        "Database": database,
        "DatabaseIssueWarningQuota": unlimited(),
        "DatabaseName": str(database or ""),
        "DatabaseProhibitSendQuota": unlimited(),
        "DatabaseProhibitSendReceiveQuota": unlimited(),
        "DeletedItemCount": 0,
        "DisconnectDate": None,
        "DisconnectReason": None,
        "DisplayName": e.text("displayname") or e.name,
        "ExternalDirectoryOrganizationId": _ZERO,
        "Identity": ExValue((f"{_DATA}.Mapi.MailboxId", f"{_DATA}.Mapi.MapiObjectId",
                             f"{_DATA}.ObjectId", "System.Object"), str(e.guid)),
        "IsArchiveMailbox": False,
        "IsClutterObjectsFeatureEnabled": False,
        "IsMoveDestination": False,
        "IsQuarantined": False,
        "IsValid": True,
        "ItemCount": PSUInt(count),
        "LastLoggedOnUserAccount": f"{org.netbios}\\{e.text('samaccountname') or e.alias or ''}",
        "LastLogoffTime": _EPOCH + datetime.timedelta(days=1),
        "LastLogonTime": _EPOCH,
        "LegacyDN": legacy,
        "MailboxGuid": e.guid,
        "MailboxMessagesPerFolderCountReceiveQuota": None,
        "MailboxMessagesPerFolderCountWarningQuota": None,
        "MailboxTableIdentifier": f"{e.guid}:{e.created}",
        "MailboxType": "Private",
        "MapiIdentity": str(e.guid),
        "MoveHistory": None,
        "NeedsToMove": False,
        "ObjectClass": "Mailbox",
        "OriginatingServer": f"{org.server.lower()}.{org.domain}",
        "OwnerADGuid": e.guid,
        "ResourceUsageRollingAvgDatabaseReads": 0,
        "ResourceUsageRollingAvgDatabaseTime": 0,
        "ResourceUsageRollingClientTypes": "",
        "ServerName": org.server.upper(),
        "StorageGroupName": None,
        "StorageLimitStatus": "BelowLimit",
        "SystemMessageCount": 0,
        "SystemMessageSize": byte_size(0),
        "TotalDeletedItemSize": byte_size(0),
        "TotalItemSize": byte_size(count * 37_411),
    }, legacy)


def view(e: Entry, org: Organisation, cmdlet_noun: str) -> ExObject:
    """The object a ``Get-<noun>`` cmdlet outputs for ``e``."""
    if cmdlet_noun == "mailbox" and e.recipient_type == MAILBOX:
        return mailbox(e, org)
    if cmdlet_noun == "mailcontact" and e.recipient_type == MAIL_CONTACT:
        return mail_contact(e, org)
    return reduced_recipient(e, org)
