"""What `certmate run` (and so `make run`) says in its log about the chat channels: the
ones off and the setting that turns each on, and a KakaoTalk whose links cannot open on
a phone. Real processes, stopped with SIGTERM."""

from __future__ import annotations

import os
from pathlib import Path

from tests.bot.processes import healthy, start_run, stop
from tests.conftest import free_port
from tests.fakes.kakao_skill import SECRET

TELEGRAM_OFF = "Telegram is off: set [telegram] token (or CERTMATE_TELEGRAM__TOKEN) to turn it on"
KAKAO_OFF = (
    "KakaoTalk is off: set [kakao] enabled = true (or CERTMATE_KAKAO__ENABLED=true),"
    " with a [kakao] secret of 16 characters or more, to turn it on"
)
NOT_ON_A_PHONE = "the secure page's links will not open on a phone"


async def _log_of_a_run(folder: Path, **settings: str) -> str:
    """Start `certmate run` with only `settings` (CERTMATE_… variables) and a free port,
    wait until it serves, stop it; its log."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTMATE_")}
    env |= {"CERTMATE_HTTP__PORT": str(port), **settings}
    process = await start_run(folder, env)
    await healthy(port, process)
    return await stop(process)


async def test_with_no_channel_the_log_says_how_to_turn_each_on(tmp_path: Path) -> None:
    """Nothing configured (as `make run` on a fresh machine): the log names both channels
    as off, each with the one setting that turns it on, and warns that no channel is on."""
    log = await _log_of_a_run(tmp_path)
    assert TELEGRAM_OFF in log
    assert KAKAO_OFF in log
    assert "no chat channel is on" in log
    assert NOT_ON_A_PHONE not in log


async def test_kakao_without_an_https_public_url_is_warned_about(tmp_path: Path) -> None:
    """KakaoTalk on with no `[http] public_url`: a warning says its links go to
    http://127.0.0.1:<port> and will not open on a phone. With an https public_url, no
    warning; Telegram is still said to be off, KakaoTalk not."""
    kakao = {"CERTMATE_KAKAO__ENABLED": "true", "CERTMATE_KAKAO__SECRET": SECRET}
    (tmp_path / "plain").mkdir()
    (tmp_path / "https").mkdir()
    log = await _log_of_a_run(tmp_path / "plain", **kakao)
    (warning,) = [line for line in log.splitlines() if NOT_ON_A_PHONE in line]
    assert "WARNING" in warning
    assert "links go to http://127.0.0.1:" in warning
    assert "[http] public_url" in warning
    assert "KakaoTalk skill on /kakao/skill" in log
    assert KAKAO_OFF not in log
    assert "no chat channel is on" not in log

    public = {"CERTMATE_HTTP__PUBLIC_URL": "https://certmate.example.kr"}
    log = await _log_of_a_run(tmp_path / "https", **kakao, **public)
    assert NOT_ON_A_PHONE not in log
    assert TELEGRAM_OFF in log
