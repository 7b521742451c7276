"""Fixtures of the bot tests: a running Kakao + secure-page site, and a real browser."""

from tests.bot.kakao_site import site
from tests.browser import browser

__all__ = ["browser", "site"]
