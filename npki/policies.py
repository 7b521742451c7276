"""What a certificate is for, read from its policy OID: the table as data.

The table names issuers, usages and policies with stable codes only; what
users read for them lives in the application's catalogs.

Sources are listed in NPKI.md (jCastle `lib/oid-kr.js`, public signing
plug-in tables, and OIDs read from real test certificates). Where sources
disagree the row follows NPKI.md and says so; an OID not in the table is
reported as `unknown` rather than guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal, get_args

Usage = Literal[
    "general",
    "bank",
    "securities",
    "card",
    "e-government",
    "e-tax",
    "corporate-banking",
    "encryption",
    "unknown",
]
HolderType = Literal["personal", "corporate", "unknown"]
CaCode = Literal["yessign", "kica", "signkorea", "crosscert", "tradesign", "ncasign", "unknown"]


CA_CODES: Final[tuple[CaCode, ...]] = get_args(CaCode)
USAGES: Final[tuple[Usage, ...]] = get_args(Usage)


@dataclass(frozen=True, slots=True)
class Policy:
    """One row of the policy table.

    `name` says what the certificate is for in one stable word (several OIDs share
    one); applications show it through their own texts (certmate: `policy.<name>`).
    """

    oid: str
    ca: CaCode
    usage: Usage
    holder_type: HolderType
    name: str


_TABLE: Final = (
    # yessign (KFTC)
    Policy("1.2.410.200005.1.1.1", "yessign", "general", "personal", "general_personal"),
    Policy("1.2.410.200005.1.1.5", "yessign", "general", "corporate", "general_corporate"),
    Policy("1.2.410.200005.1.1.4", "yessign", "bank", "personal", "bank_card_insurance_personal"),
    Policy("1.2.410.200005.1.1.2", "yessign", "bank", "corporate",
           "bank_card_insurance_corporate"),
    Policy("1.2.410.200005.1.1.6.1", "yessign", "corporate-banking", "corporate",
           "corporate_banking"),
    Policy("1.2.410.200005.1.1.6.2", "yessign", "card", "personal", "card_personal"),
    Policy("1.2.410.200005.1.1.6.8", "yessign", "e-tax", "corporate", "e_tax"),
    # KICA / SignGATE
    Policy("1.2.410.200004.5.2.1.2", "kica", "general", "personal", "general_personal"),
    Policy("1.2.410.200004.5.2.1.1", "kica", "general", "corporate", "general_corporate"),
    Policy("1.2.410.200004.5.2.1.7.1", "kica", "bank", "personal", "bank_insurance_personal"),
    Policy("1.2.410.200004.5.2.1.7.2", "kica", "securities", "personal", "securities_personal"),
    Policy("1.2.410.200004.5.2.1.7.3", "kica", "card", "personal", "card_personal"),
    # SignKorea (Koscom)
    Policy("1.2.410.200004.5.1.1.5", "signkorea", "general", "personal", "general_personal"),
    Policy("1.2.410.200004.5.1.1.7", "signkorea", "general", "corporate", "general_corporate"),
    Policy("1.2.410.200004.5.1.1.9", "signkorea", "securities", "personal",
           "securities_insurance_personal"),
    Policy("1.2.410.200004.5.1.1.9.2", "signkorea", "card", "personal", "card_personal"),
    # CrossCert
    Policy("1.2.410.200004.5.4.1.1", "crosscert", "general", "personal", "general_personal"),
    Policy("1.2.410.200004.5.4.1.2", "crosscert", "general", "corporate", "general_corporate"),
    Policy("1.2.410.200004.5.4.1.101", "crosscert", "bank", "personal",
           "bank_insurance_personal"),
    Policy("1.2.410.200004.5.4.1.102", "crosscert", "securities", "personal",
           "securities_personal"),
    # .103: one source says insurance; .104: one source says credit card (NPKI.md).
    Policy("1.2.410.200004.5.4.1.103", "crosscert", "card", "personal", "card_personal"),
    Policy("1.2.410.200004.5.4.1.104", "crosscert", "e-government", "personal", "e_government"),
    # TradeSign (KTNET)
    Policy("1.2.410.200012.1.1.1", "tradesign", "general", "personal", "general_personal"),
    Policy("1.2.410.200012.1.1.3", "tradesign", "general", "corporate", "general_corporate"),
    Policy("1.2.410.200012.1.1.2", "tradesign", "encryption", "unknown", "encryption"),
    Policy("1.2.410.200012.1.1.4", "tradesign", "encryption", "unknown", "encryption"),
    Policy("1.2.410.200012.1.1.101", "tradesign", "bank", "personal", "bank_insurance"),
    # .103: one source says securities/card (NPKI.md).
    Policy("1.2.410.200012.1.1.103", "tradesign", "securities", "personal", "securities"),
    Policy("1.2.410.200012.1.1.105", "tradesign", "card", "personal", "card"),
    # NCASign
    Policy("1.2.410.200004.5.3.1.9", "ncasign", "general", "personal", "general_personal"),
    Policy("1.2.410.200004.5.3.1.2", "ncasign", "general", "corporate", "general_corporate"),
)  # fmt: skip

POLICIES: Final = MappingProxyType({policy.oid: policy for policy in _TABLE})

# The issuer's O attribute names the CA when the policy OID is not in the table.
_CA_BY_ORGANIZATION: Final[tuple[tuple[str, CaCode], ...]] = (
    ("yessign", "yessign"),
    ("kica", "kica"),
    ("signgate", "kica"),
    ("signkorea", "signkorea"),
    ("crosscert", "crosscert"),
    ("tradesign", "tradesign"),
    ("ncasign", "ncasign"),
)


def policy_for(oids: tuple[str, ...]) -> Policy | None:
    """The first of `oids` that the table knows, if any."""
    for oid in oids:
        policy = POLICIES.get(oid)
        if policy is not None:
            return policy
    return None


def ca_from_organization(organization: str | None) -> CaCode:
    """The CA code for an issuer organization name such as `yessign` or `KICA`."""
    if organization:
        folded = organization.casefold()
        for needle, code in _CA_BY_ORGANIZATION:
            if needle in folded:
                return code
    return "unknown"
