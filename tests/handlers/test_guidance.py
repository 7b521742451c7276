"""Guidance about phones says only what the sources in docs/guidance-sources.md support
(issue 14 item 5): no PFX installed from the Files app, no other company's service, and
공인인증서 only to explain the new name."""

from __future__ import annotations

import pytest
from babel.messages.pofile import read_po

from handlers.i18n import CATALOGS, load_catalog


def _texts(locale: str) -> dict[str, str]:
    with (CATALOGS / f"{locale}.po").open("rb") as file:
        return {str(m.id): str(m.string) for m in read_po(file, locale=locale) if m.id}


def test_no_text_claims_a_pfx_installs_into_banking_apps_from_files() -> None:
    for key, text in _texts("ko").items():
        assert not ("파일 앱" in text and "설치돼요" in text and "없어요" not in text), key
    for key, text in _texts("en").items():
        assert "open the PFX from the Files app" not in text, key


@pytest.mark.parametrize("locale", ["ko", "en"])
def test_guidance_names_no_other_company_s_service(locale: str) -> None:
    for key, text in _texts(locale).items():
        if key.startswith(("add.where", "renew.steps", "export.", "help.")):
            for name in ("토스", "Toss", "뱅크샐러드", "whatssub"):
                assert name not in text, (key, name)


def test_the_old_name_appears_only_to_explain_the_new_one() -> None:
    for key, text in _texts("ko").items():
        if "공인인증서" in text:
            assert "옛 공인인증서" in text, key


def test_iphone_guidance_goes_through_the_pc_copy() -> None:
    """The one route the sources agree on: the app's 인증서 가져오기 with the website's
    PC→스마트폰 인증서 복사, from a PC holding the NPKI folder (certmate's zip)."""
    texts = load_catalog().texts("ko")
    for key in ("renew.steps.ios", "export.pfx_sent"):
        assert "인증서 가져오기" in texts(key)
        assert "PC→스마트폰 인증서 복사" in texts(key)
