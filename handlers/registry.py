"""Every flow the assistant knows, in one place."""

from __future__ import annotations

from handlers.certs import CertsFlow
from handlers.export import ExportFlow
from handlers.flow import Flow
from handlers.help import HelpFlow
from handlers.lang import LangFlow
from handlers.link import LinkFlow
from handlers.privacy import PrivacyFlow
from handlers.register import RegisterFlow
from handlers.remind import RemindFlow
from handlers.renewal import RenewFlow
from handlers.start import StartFlow


def all_flows() -> list[Flow]:
    return [
        StartFlow(),
        HelpFlow(),
        LangFlow(),
        RegisterFlow(),
        CertsFlow(),
        LinkFlow(),
        RenewFlow(),
        ExportFlow(),
        RemindFlow(),
        PrivacyFlow(),
    ]
