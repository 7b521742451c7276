"""A person at the terminal types what they see: the number beside a button, or its label,
presses it — numbered once across a whole answer, and at a password prompt too."""

from __future__ import annotations

import re
from pathlib import Path

from bot.channels.console import ConsoleUser, render
from handlers.messages import Delete
from tests.handlers.conftest import PASSWORD
from tests.handlers.harness import World


def _user(world: World) -> ConsoleUser:
    return ConsoleUser(
        world.assistant.handle, "typist", world.folder / "out", 1024 * 1024, interactive=True
    )


def _number_beside(screen: str, label: str) -> str:
    numbers: list[str] = re.findall(rf"^  (\d+)\. {re.escape(label)}$", screen, flags=re.M)
    (number,) = numbers
    return number


async def _register(user: ConsoleUser, cert: Path, key: Path) -> None:
    await user.send_line(f"/upload '{cert}' '{key}'")
    await user.send_line(PASSWORD)


async def test_the_number_beside_an_institution_in_the_second_list_picks_it(
    world: World, pair_files: tuple[Path, Path]
) -> None:
    """ "다른 방법으로 연결" lists banks and then brokers: one numbering, so the number
    beside 우체국 picks 우체국, not the broker that had that number in its own list."""
    user = _user(world)
    await _register(user, *pair_files)
    await user.send_line("/link")
    _, outbound = await user.send_line("다른 방법으로 연결")
    screen = render(user, outbound)
    number = _number_beside(screen, "우체국")
    assert int(number) > 1
    assert len(re.findall(rf"^  {number}\. ", screen, flags=re.M)) == 1  # one numbering
    _, outbound = await user.send_line(number)
    assert "우체국" in render(user, outbound)
    assert "계좌번호" in render(user, outbound)


async def test_a_number_at_the_password_prompt_presses_its_button(
    world: World, pair_files: tuple[Path, Path]
) -> None:
    """At the password prompt, typing the number beside "알림용으로만 등록" chooses it: it
    is not tried (and counted) as a password."""
    user = _user(world)
    _, outbound = await user.send_line(f"/upload '{pair_files[0]}' '{pair_files[1]}'")
    assert user.expects_secret
    number = _number_beside(render(user, outbound), "알림용으로만 등록")
    entry, outbound = await user.send_line(number)
    assert entry == {"type": "user", "press": "알림용으로만 등록"}
    said = render(user, outbound)
    assert "맞지 않아요" not in said
    assert "알림용으로 등록했어요. 개인키와 비밀번호는 받지 않았어요." in said
    assert not [item for item in outbound if isinstance(item, Delete)]
