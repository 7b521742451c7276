"""What a certificate is for, read from its policy OID: the table as data.

Sources are listed in NPKI.md (jCastle `lib/oid-kr.js`, public signing
plug-in tables, and OIDs read from real test certificates). Where sources
disagree the row follows NPKI.md and says so; an OID not in the table is
reported as `unknown` rather than guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

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


@dataclass(frozen=True, slots=True)
class Label:
    """A name shown to users, in Korean and English."""

    ko: str
    en: str


@dataclass(frozen=True, slots=True)
class Policy:
    """One row of the policy table."""

    oid: str
    ca: CaCode
    usage: Usage
    holder_type: HolderType
    label: Label


CA_LABELS: Final = MappingProxyType(
    {
        "yessign": Label("금융결제원(yessign)", "KFTC (yessign)"),
        "kica": Label("한국정보인증(SignGATE)", "KICA (SignGATE)"),
        "signkorea": Label("코스콤(SignKorea)", "Koscom (SignKorea)"),
        "crosscert": Label("한국전자인증(CrossCert)", "CrossCert"),
        "tradesign": Label("한국무역정보통신(TradeSign)", "KTNET (TradeSign)"),
        "ncasign": Label("한국전산원(NCASign)", "NCASign"),
        "unknown": Label("알 수 없는 기관", "Unknown issuer"),
    }
)

USAGE_LABELS: Final = MappingProxyType(
    {
        "general": Label("범용", "General purpose"),
        "bank": Label("은행/신용카드/보험용", "Banking, credit card and insurance"),
        "securities": Label("증권용", "Securities"),
        "card": Label("신용카드용", "Credit card"),
        "e-government": Label("전자민원용", "E-government"),
        "e-tax": Label("전자세금용", "E-tax"),
        "corporate-banking": Label("기업뱅킹용", "Corporate banking"),
        "encryption": Label("암호용", "Encryption"),
        "unknown": Label("용도 알 수 없음", "Unknown usage"),
    }
)

HOLDER_TYPE_LABELS: Final = MappingProxyType(
    {
        "personal": Label("개인", "Personal"),
        "corporate": Label("법인", "Corporate"),
        "unknown": Label("알 수 없음", "Unknown"),
    }
)


def _p(oid: str, ca: CaCode, usage: Usage, holder: HolderType, ko: str, en: str) -> Policy:
    return Policy(oid, ca, usage, holder, Label(ko, en))


_TABLE: Final = (
    # yessign (금융결제원)
    _p("1.2.410.200005.1.1.1", "yessign", "general", "personal", "범용 개인", "General, personal"),
    _p("1.2.410.200005.1.1.5", "yessign", "general", "corporate", "범용 법인", "General, corporate"),
    _p("1.2.410.200005.1.1.4", "yessign", "bank", "personal",
       "은행/신용카드/보험용 개인", "Banking/card/insurance, personal"),
    _p("1.2.410.200005.1.1.2", "yessign", "bank", "corporate",
       "은행/신용카드/보험용 법인", "Banking/card/insurance, corporate"),
    _p("1.2.410.200005.1.1.6.1", "yessign", "corporate-banking", "corporate",
       "기업뱅킹용", "Corporate banking"),
    _p("1.2.410.200005.1.1.6.2", "yessign", "card", "personal", "신용카드용 개인", "Credit card, personal"),
    _p("1.2.410.200005.1.1.6.8", "yessign", "e-tax", "corporate", "전자세금용", "E-tax"),
    # KICA / SignGATE (한국정보인증)
    _p("1.2.410.200004.5.2.1.2", "kica", "general", "personal", "범용 개인", "General, personal"),
    _p("1.2.410.200004.5.2.1.1", "kica", "general", "corporate", "범용 법인", "General, corporate"),
    _p("1.2.410.200004.5.2.1.7.1", "kica", "bank", "personal",
       "은행·보험용 개인", "Banking/insurance, personal"),
    _p("1.2.410.200004.5.2.1.7.2", "kica", "securities", "personal", "증권용 개인", "Securities, personal"),
    _p("1.2.410.200004.5.2.1.7.3", "kica", "card", "personal", "신용카드용 개인", "Credit card, personal"),
    # SignKorea (코스콤)
    _p("1.2.410.200004.5.1.1.5", "signkorea", "general", "personal", "범용 개인", "General, personal"),
    _p("1.2.410.200004.5.1.1.7", "signkorea", "general", "corporate", "범용 법인", "General, corporate"),
    _p("1.2.410.200004.5.1.1.9", "signkorea", "securities", "personal",
       "증권·보험용 개인", "Securities/insurance, personal"),
    _p("1.2.410.200004.5.1.1.9.2", "signkorea", "card", "personal",
       "신용카드용 개인", "Credit card, personal"),
    # CrossCert (한국전자인증)
    _p("1.2.410.200004.5.4.1.1", "crosscert", "general", "personal", "범용 개인", "General, personal"),
    _p("1.2.410.200004.5.4.1.2", "crosscert", "general", "corporate", "범용 법인", "General, corporate"),
    _p("1.2.410.200004.5.4.1.101", "crosscert", "bank", "personal",
       "은행·보험용 개인", "Banking/insurance, personal"),
    _p("1.2.410.200004.5.4.1.102", "crosscert", "securities", "personal",
       "증권용 개인", "Securities, personal"),
    # .103: one source says insurance; .104: one source says credit card (NPKI.md).
    _p("1.2.410.200004.5.4.1.103", "crosscert", "card", "personal",
       "신용카드용 개인", "Credit card, personal"),
    _p("1.2.410.200004.5.4.1.104", "crosscert", "e-government", "personal",
       "전자민원용", "E-government"),
    # TradeSign (한국무역정보통신)
    _p("1.2.410.200012.1.1.1", "tradesign", "general", "personal", "범용 개인", "General, personal"),
    _p("1.2.410.200012.1.1.3", "tradesign", "general", "corporate", "범용 법인", "General, corporate"),
    _p("1.2.410.200012.1.1.2", "tradesign", "encryption", "unknown", "암호용", "Encryption"),
    _p("1.2.410.200012.1.1.4", "tradesign", "encryption", "unknown", "암호용", "Encryption"),
    _p("1.2.410.200012.1.1.101", "tradesign", "bank", "personal",
       "은행·보험용", "Banking/insurance"),
    # .103: one source says securities/card (NPKI.md).
    _p("1.2.410.200012.1.1.103", "tradesign", "securities", "personal", "증권용", "Securities"),
    _p("1.2.410.200012.1.1.105", "tradesign", "card", "personal", "신용카드용", "Credit card"),
    # NCASign
    _p("1.2.410.200004.5.3.1.9", "ncasign", "general", "personal", "범용 개인", "General, personal"),
    _p("1.2.410.200004.5.3.1.2", "ncasign", "general", "corporate", "범용 법인", "General, corporate"),
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
