"""Exchange's recipient enums as psrpcore types, so they travel with their .NET
type names and values (pypsrp shows them by name, as Exchange's do)."""

from __future__ import annotations

from psrpcore.types import PSEnumBase, PSInt64, PSType


@PSType(["Microsoft.Exchange.Data.Directory.Recipient.RecipientType"], rehydrate=False)
class RecipientType(PSEnumBase):
    """Exchange's RecipientType enum (values as in Exchange 2010)."""

    Invalid = 0
    User = 1
    UserMailbox = 2
    MailUser = 3
    Contact = 4
    MailContact = 5
    Group = 6
    MailUniversalDistributionGroup = 7
    MailUniversalSecurityGroup = 8
    MailNonUniversalGroup = 9
    DynamicDistributionGroup = 10
    PublicFolder = 11


@PSType(["Microsoft.Exchange.Data.Directory.Recipient.RecipientTypeDetails"], rehydrate=False)
class RecipientTypeDetails(PSEnumBase, base_type=PSInt64):
    """Exchange's RecipientTypeDetails flags (only the values the mock uses)."""

    none = 0
    UserMailbox = 1
    LinkedMailbox = 2
    SharedMailbox = 4
    LegacyMailbox = 8
    RoomMailbox = 16
    EquipmentMailbox = 32
    MailContact = 64
    MailUser = 128
    MailUniversalDistributionGroup = 256
    MailNonUniversalGroup = 512
    MailUniversalSecurityGroup = 1024
    DynamicDistributionGroup = 2048
    PublicFolder = 4096
    RoomList = 67108864
    RemoteUserMailbox = 2147483648
    RemoteRoomMailbox = 8589934592
    RemoteEquipmentMailbox = 17179869184
    RemoteSharedMailbox = 34359738368
