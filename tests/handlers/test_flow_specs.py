"""Flows declared once: the engine builds commands, menus, words and dispatch from the
specs in handlers/flows/, buttons carry typed actions, and flows hand over by value."""

from __future__ import annotations

import ast
import dataclasses
from datetime import timedelta
from pathlib import Path
from typing import Final

import pytest

import handlers
from handlers.actions import Action, Actions
from handlers.flow import Context, Event, FlowSpec, Outcome, Press, State
from handlers.flows import all_specs, remind
from handlers.i18n import LOCALES, load_catalog
from handlers.messages import Inbound, Reply
from handlers.registry import Flows
from storage import buttons, conversations
from storage.models import Channel
from tests.handlers.conftest import PASSWORD
from tests.handlers.harness import World, register, texts
from tests.handlers.harness import buttons as labels

FLOWS_DIR: Final = Path(handlers.__file__).resolve().parent / "flows"


def test_every_flow_module_exports_one_spec_and_the_menus_follow_the_specs() -> None:
    """Each module of handlers/flows/ is a flow with a spec; the chat app's command menu
    and the main menu are built from them, in rank order."""
    modules = sorted(p.stem for p in FLOWS_DIR.glob("*.py") if p.stem != "__init__")
    specs = all_specs()
    assert len(specs) == len(modules)
    flows = Flows(specs, load_catalog())
    menu = flows.command_menu(load_catalog(), "ko")
    assert [name for name, _ in menu] == [
        "add", "certs", "link", "renew", "export", "remind", "privacy", "lang", "help", "cancel",
    ]  # fmt: skip
    assert [action.flow for _, action in flows.menu] == [
        "add", "certs", "link", "renew", "export", "remind", "privacy", "help",
    ]  # fmt: skip


def test_every_action_belongs_to_a_declared_flow_and_names_are_unique() -> None:
    specs = all_specs()
    names = {spec.name for spec in specs}
    kinds = [kind for spec in specs for kind in spec.actions]
    assert {kind.flow for kind in kinds} <= names
    Actions(kinds)  # raises on two actions with one stored name
    for kind in kinds:
        assert dataclasses.is_dataclass(kind)
        assert kind.__dataclass_params__.frozen  # type: ignore[attr-defined]


def test_flows_do_not_call_each_other() -> None:
    """Hand-over is a returned value: no flow module imports another flow's `…Flow` class
    or calls another flow's start/resume (a button of another flow's action is allowed)."""
    for path in sorted(FLOWS_DIR.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "handlers.flows."
            ):
                assert not [a.name for a in node.names if a.name.endswith("Flow")], path
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("start", "resume")
            ):  # a flow starts or resumes only itself
                target = node.func.value
                assert isinstance(target, ast.Name), (path, ast.unparse(node))
                assert target.id == "self", (path, ast.unparse(node))


def test_a_stored_action_unpacks_to_its_type_and_a_stale_one_to_nothing() -> None:
    actions = Actions(kind for spec in all_specs() for kind in spec.actions)
    packed = remind.Snooze((3, 4), 1).pack()
    assert packed.name == "remind:snooze"
    assert actions.unpack(packed) == remind.Snooze((3, 4), 1)
    # A token issued by an older release, as JSON stored it (lists, not tuples): still works.
    assert actions.unpack(buttons.Action("remind:snooze", {"ids": [3], "days": 3})) == (
        remind.Snooze((3,), 3)
    )
    # A removed verb, a field of the wrong type, a missing field: nothing, never a crash.
    assert actions.unpack(buttons.Action("renew:upload", {})) is None
    assert actions.unpack(buttons.Action("certs:details", {"id": "seven"})) is None
    assert actions.unpack(buttons.Action("certs:details", {})) is None


class _Ping:
    """A flow the engine never heard of, declared only here."""

    async def start(self, ctx: Context, event: Event) -> Outcome:  # noqa: ARG002
        ctx.say_text("pong", await ctx.button("again", _Again(count=1)))
        return State("ping", "waiting")

    async def resume(self, ctx: Context, state: State, event: Event) -> Outcome:  # noqa: ARG002
        assert isinstance(event, Press)
        assert isinstance(event.action, _Again)
        ctx.say_text(f"pong {event.action.count}")
        return None


@dataclasses.dataclass(frozen=True, slots=True)
class _Again(Action):
    flow = "ping"
    verb = "again"
    count: int


async def test_a_flow_added_as_a_spec_is_routed_with_no_other_change(world: World) -> None:
    """A spec is all the engine needs: its command starts it, its typed button resumes it."""
    spec = FlowSpec("ping", _Ping(), actions=(_Again,), steps=("waiting",), commands=("ping",))
    world.assistant = type(world.assistant)(world.assistant.services, [*all_specs(), spec])
    out = await world.handle(Inbound(Channel.CONSOLE, "u", command="ping"))
    (reply,) = [o for o in out if isinstance(o, Reply)]
    assert reply.text == "pong"
    out = await world.handle(Inbound(Channel.CONSOLE, "u", button=reply.choices[0].token))
    assert [o.text for o in out if isinstance(o, Reply)] == ["pong 1"]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("인증서 등록", "인증서 파일을 보내 주세요"),  # a menu label typed
        ("등록", "인증서 파일을 보내 주세요"),
        ("내 인증서", "등록된 인증서가 없어요."),
        ("  Help ", "이렇게 도와드릴 수 있어요"),
        ("갱신", "먼저 인증서를 등록해 주세요"),
    ],
)
async def test_a_flow_word_or_menu_label_typed_alone_starts_the_flow(
    world: World, typed: str, expected: str
) -> None:
    """Words and menu labels, typed, do what the button does, on every channel (here the
    console; Kakao's skill test types them over HTTP)."""
    said = texts(await world.chat().say(typed))
    assert expected in said, said


async def test_a_word_is_a_password_while_one_is_awaited(
    world: World, pair_files: tuple[Path, Path]
) -> None:
    """At the password prompt, "도움말" is what was typed as the password: deleted, tried
    as one, and not a command (a password never leaks into a flow as text)."""
    chat = world.chat()
    await chat.upload(*pair_files)
    entries = await chat.say("도움말")
    assert [e["type"] for e in entries] == ["user", "delete", "text"]
    assert entries[-1]["text"].startswith("비밀번호가 맞지 않아요 (1/5)")
    assert "등록을 마쳤어요" in texts(await chat.say(PASSWORD))


async def test_renewal_hands_files_over_to_registration(
    world: World, pair_files: tuple[Path, Path], renewed_files: tuple[Path, Path]
) -> None:
    """In the renewal guide, files sent go to the flow that takes files (a returned
    hand-over, not an import): the registration asks for the password, then retires the
    old certificate."""
    chat = world.chat()
    await register(chat, *pair_files)
    assert "갱신을 마치면 새 인증서를 보내 주세요" in texts(await chat.say("/renew"))
    assert "인증서 비밀번호를 입력해 주세요 (홍길동)" in texts(await chat.upload(*renewed_files))
    assert "2027-07-01" in texts(await chat.say(PASSWORD) + await chat.say("/certs"))


async def test_privacy_hands_delete_one_over_to_the_certificate_list(
    world: World, pair_files: tuple[Path, Path]
) -> None:
    chat = world.chat()
    await register(chat, *pair_files)
    await chat.say("/privacy")
    said = await chat.press("인증서 하나 삭제")
    assert "홍길동" in texts(said)
    assert any("홍길동" in label for label in labels(said))


def test_two_flows_claiming_one_word_are_refused_at_start() -> None:
    clash = FlowSpec("clash", _Ping(), actions=(), commands=("clash",), words="words.add")
    with pytest.raises(ValueError, match="means both"):
        Flows([*all_specs(), clash], load_catalog())


def test_words_exist_for_every_locale() -> None:
    catalog = load_catalog()
    for spec in all_specs():
        if spec.words:
            for locale in LOCALES:
                assert catalog.texts(locale).has(spec.words), (spec.name, locale)


async def test_a_saved_step_no_flow_declares_is_forgotten_with_a_note(world: World) -> None:
    """A state left by an older release (a step since renamed) is not resumed into a flow
    that no longer knows it: the user is told, and the message is handled afresh."""
    await world.chat().say("/link")  # creates the user
    services = world.assistant.services
    async with world.database.write() as session:
        saved = await conversations.load(session, services.vault, Channel.CONSOLE, "console")
        await conversations.save(
            session, services.vault, Channel.CONSOLE, "console", flow="link",
            step="renamed_step", data={}, secret=None,
            expected_version=saved.version if saved else None,
            expires_at=world.clock() + timedelta(minutes=10), now=world.clock(),
        )  # fmt: skip
    said = texts(await world.chat().say("도움말"))
    assert said.startswith("certmate가 새 버전으로 바뀌어서 하던 일을 이어 갈 수 없어요.")
    assert "이렇게 도와드릴 수 있어요" in said
    async with world.database.read() as session:
        assert await conversations.load(session, services.vault, Channel.CONSOLE, "console") is None
