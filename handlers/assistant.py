"""The conversation engine: one `Inbound` in, a list of `Outbound` out.

For each message: take the user's lock (their messages run one at a time),
check the rate limit, then in one write transaction load the user and their
saved flow state, route the event to a flow, and save the state it returns.
State lives in the database only, so a restart (or another instance)
continues the same conversation; saves are optimistic, and a save that lost
a race is retried once from the fresh state.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final

from handlers.actions import Action
from handlers.flow import (
    Command,
    Context,
    Event,
    Files,
    FlowSpec,
    HandOver,
    Other,
    Outcome,
    Page,
    Press,
    State,
    Text,
    Unhandled,
)
from handlers.i18n import Texts, typed_word
from handlers.locks import KeyedLocks
from handlers.messages import Choice, Delete, Inbound, Outbound, PageForm, Reply, Unsupported
from handlers.ratelimit import RateLimiter
from handlers.registry import CANCEL, Flows
from handlers.services import Services
from storage import arrival, buttons, conversations, links, notices, users
from storage.conversations import Saved
from storage.errors import NotFound, StaleState
from storage.links import Purpose

AFTER_SECRET: Final = "_after_secret"  # noqa: S105  (a marker's name, not a secret)
"""Saved in place of a flow that ended while it held files or waited for a password."""
AFTER_SECRET_WINDOW: Final = timedelta(minutes=10)
"""How long after such a flow a typed line that looks like a password is deleted."""
_SECRET_LOOKING_MIN: Final = 6


@dataclass(frozen=True, slots=True)
class Handled:
    """The answer to one event; for a secure page, whether its link stays open."""

    out: list[Outbound]
    page_open: bool = False


class Assistant:
    """Handles inbound messages for every channel."""

    def __init__(self, services: Services, specs: Sequence[FlowSpec]) -> None:
        self.services = services
        self.flows = Flows(specs, services.catalog)
        self._locks = KeyedLocks()
        self._limiter = RateLimiter(services.settings.messages_per_minute)

    async def handle(self, inbound: Inbound) -> list[Outbound]:
        return (await self._handle(inbound)).out

    async def handle_page(self, inbound: Inbound) -> Handled:
        """A secure page's submission (`inbound.page`): its answer is shown on the page,
        and kept as a notice for the user's next chat message."""
        return await self._handle(inbound)

    async def _handle(self, inbound: Inbound) -> Handled:
        key = (inbound.channel, inbound.user_key)
        async with self._locks.hold(key):
            now = self.services.clock()
            rate_limited = self.services.channels[inbound.channel].rate_limited
            if rate_limited and not self._limiter.allow(key, now):
                return Handled(await self._limited(inbound), page_open=True)
            try:
                return await self._handle_once(inbound)
            except StaleState:
                return await self._handle_once(inbound)

    async def mark_unreachable(self, inbound: Inbound) -> None:
        """The platform refused to deliver to the user of `inbound` (they blocked the
        bot): reminders skip them until they write again."""
        async with self.services.database.write() as session:
            user = await users.find(session, inbound.channel, inbound.user_key)
            if user is not None and user.id is not None:
                await users.set_reachable(session, user.id, False, self.services.clock())

    async def _limited(self, inbound: Inbound) -> list[Outbound]:
        """Too many messages: a polite note in the user's language, and nothing else done,
        except taking a password off the chat if one was asked for."""
        async with self.services.database.read() as session:
            user = await users.find(session, inbound.channel, inbound.user_key)
            saved = await conversations.load(
                session, self.services.vault, inbound.channel, inbound.user_key
            )
        texts = self.services.catalog.texts(user.locale if user else None)
        out: list[Outbound] = []
        secret_asked = saved is not None and saved.awaiting_secret
        if secret_asked and inbound.text is not None and inbound.message_ref is not None:
            out.append(Delete(inbound.message_ref, texts("delete.refused")))
        out.append(Reply(texts("rate.limited")))
        return out

    async def _handle_once(self, inbound: Inbound) -> Handled:
        services = self.services
        now = services.clock()
        if not inbound.private:  # a group: answered from the texts alone, nobody stored
            async with services.database.read() as session:
                known = await users.find(session, inbound.channel, inbound.user_key)
            texts = services.catalog.texts(known.locale if known else None)
            return Handled(_answer_in_group(texts, inbound))
        async with services.database.write() as session:
            found = await arrival.look_up(
                session, services.vault, inbound.channel, inbound.user_key
            )
            user = await users.ensure(
                session,
                found.user,
                inbound.channel,
                inbound.user_key,
                now,
                timezone=services.settings.timezone,
            )
            texts = services.catalog.texts(user.locale)
            ctx = Context(services, session, user, texts, now, menu=self.flows.menu)
            if inbound.page is not None:
                if not await links.claim(session, inbound.page.link_id, ctx.user_id, now):
                    ctx.say("page.used")
                    return Handled(ctx.out)
            elif found.notices_waiting:
                for notice in await notices.take(session, ctx.user_id, now):
                    choices = tuple(Choice(label, token) for label, token in notice.choices)
                    ctx.out.append(Reply(notice.text, choices))
            saved = found.saved
            version = saved.version if saved else None
            state, secret_next = None, False
            if saved is not None and saved.flow == AFTER_SECRET:
                if _late_secret(inbound, saved.expires_at, now):
                    ctx.delete(inbound.message_ref)
                    ctx.say("late_secret.deleted", *await ctx.main_menu())
                    return Handled(ctx.out)
            elif saved is not None and not self.flows.resumes(saved.flow, saved.step):
                # A step no flow declares (a release renamed or removed it): forgotten.
                state, secret_next = None, saved.awaiting_secret
                if secret_next and inbound.text is not None:
                    ctx.delete(inbound.message_ref)
                ctx.say("session.unknown_step")
            elif saved is not None:
                state, secret_next = _saved_state(ctx, inbound, saved)
            if secret_next and state is not None:
                inbound = self._password_not_command(inbound)
            await self._step(ctx, inbound, state, version, secret_next=secret_next)
            if inbound.page is not None:
                await self._settle_page(ctx, inbound.page)
            return Handled(ctx.out, ctx.page_open)

    async def _step(
        self,
        ctx: Context,
        inbound: Inbound,
        state: State | None,
        version: int | None,
        *,
        secret_next: bool,
    ) -> None:
        """Route the event to its flow and save where the user is now."""
        event = await self._event(ctx, inbound, secret_next=secret_next)
        if event is None:
            return
        mark = len(ctx.out)
        try:
            new_state = await self._route(ctx, state, event)
        except NotFound:
            _gone(ctx, mark, event, secret_next=secret_next)
            ctx.say("button.not_found", *await ctx.main_menu())
            new_state = None
        # Still waiting for a password (asked now, or asked before and the step
        # unchanged): remembered so a late or rate-limited password is deleted too.
        asked = any(isinstance(o, Reply) and o.expects_secret for o in ctx.out)
        waiting = asked or (secret_next and new_state is not None and new_state == state)
        if waiting and not asked:
            _ask_secret_again(ctx.out)
        if new_state is None and (
            isinstance(event, Files) or (isinstance(event, Text) and secret_next and state)
        ):
            # Files, or a typed password, ended the flow: a password typed now (after
            # "unreadable", a lockout …) is still taken off the chat. (/cancel is a choice.)
            new_state = State(AFTER_SECRET, "")
        await self._save(ctx, inbound, new_state, version, secret_next=waiting)

    async def _settle_page(self, ctx: Context, form: PageForm) -> None:
        """Keep the link for a retry, or close it and copy the answer into the chat."""
        await links.settle(ctx.session, form.link_id, keep_open=ctx.page_open)
        if ctx.page_open:
            return
        replies = [item for item in ctx.out if isinstance(item, Reply)]
        last_choices = next((r.choices for r in reversed(replies) if r.choices), ())
        await notices.add(
            ctx.session,
            ctx.user_id,
            message_id=secrets.token_hex(8),
            text="\n\n".join([ctx.texts("page.chat_copy")] + [r.text for r in replies]),
            choices=[[choice.label, choice.token] for choice in last_choices],
            certificates=[],
            now=ctx.now,
        )

    async def _event(self, ctx: Context, inbound: Inbound, *, secret_next: bool) -> Event | None:
        if inbound.page is not None:
            return Page(inbound.page)
        if inbound.button is not None:
            stored = await buttons.resolve(
                ctx.session, inbound.channel, inbound.user_key, inbound.button, ctx.now
            )
            action = self.flows.actions.unpack(stored) if stored is not None else None
            if action is None:
                ctx.say("button.not_found", *await ctx.main_menu())
                return None
            return Press(action)
        if inbound.command is not None:
            return Command(inbound.command.lower(), inbound.args)
        if inbound.documents:
            return Files(inbound.documents)
        if inbound.text is not None:
            pressed = await self._typed_button(ctx, inbound.text)
            if pressed is not None:  # what a button shown last says, typed
                return Press(pressed)
            word = None if secret_next else self.flows.command_of_word(inbound.text)
            if word is not None:  # a flow's word typed alone ("등록", "help")
                return Command(word)
            return Text(inbound.text, inbound.message_ref)
        return Other(inbound.unsupported.value if inbound.unsupported else "other")

    async def _typed_button(self, ctx: Context, text: str) -> Action | None:
        """The button among the latest shown whose label is `text` (typed instead of
        pressed: KakaoTalk users do it all the time). Checked before anything else,
        a password prompt included: a button's label is never taken as a password."""
        stored = await buttons.typed(
            ctx.session, ctx.user.channel, ctx.user.user_key, typed_word(text), ctx.now
        )
        return self.flows.actions.unpack(stored) if stored is not None else None

    async def _route(self, ctx: Context, state: State | None, event: Event) -> State | None:
        """The event to its flow; a flow's hand-over is routed again, as if no flow were
        in progress (a flow hands over at most once a step: no loops)."""
        outcome = await self._route_once(ctx, state, event)
        if isinstance(outcome, HandOver):
            outcome = await self._route_once(ctx, None, outcome.event)
        if isinstance(outcome, HandOver):
            raise TypeError(f"a flow handed over twice in one step: {outcome.event!r}")
        return outcome

    async def _route_once(self, ctx: Context, state: State | None, event: Event) -> Outcome:
        if isinstance(event, Page):
            page_flow = self.flows.page[Purpose(event.form.purpose)]
            if state is not None and state.flow == page_flow.name:
                return await page_flow.flow.resume(ctx, state, event)
            return await page_flow.flow.start(ctx, event)
        if isinstance(event, Command):
            if event.name == CANCEL:
                ctx.say(_cancelled(state), *await ctx.main_menu())
                return None
            spec = self.flows.commands.get(event.name)
            if spec is None:
                return await self._fallback(ctx, state, "unknown.command")
            return await spec.flow.start(ctx, event)
        if isinstance(event, Press) and (
            state is None or event.action.flow != state.flow or event.action.restarts
        ):
            return await self.flows.by_name[event.action.flow].flow.start(ctx, event)
        if state is not None and state.flow in self.flows.by_name:
            try:
                return await self.flows.by_name[state.flow].flow.resume(ctx, state, event)
            except Unhandled:
                key = _unknown_key(event) if isinstance(event, Other) else "unknown.in_flow"
                return await self._fallback(ctx, state, key)
        if isinstance(event, Files) and self.flows.takes_files is not None:
            return await self.flows.takes_files.flow.start(ctx, event)
        return await self._fallback(ctx, None, _unknown_key(event))

    def _password_not_command(self, inbound: Inbound) -> Inbound:
        """A password may start with `/` (chat apps then call it a command): while one is
        awaited, anything that is not one of our commands is the password, and is deleted."""
        command = inbound.command
        if command is None or command.lower() in self.flows.commands or command.lower() == CANCEL:
            return inbound
        text = f"/{command} {inbound.args}" if inbound.args else f"/{command}"
        return replace(inbound, command=None, args="", text=text)

    async def _fallback(self, ctx: Context, state: State | None, key: str) -> State | None:
        """Never silence: say what we can do, show the menu, keep any flow in progress."""
        ctx.say(key, *await ctx.main_menu())
        return state

    async def _save(
        self,
        ctx: Context,
        inbound: Inbound,
        state: State | None,
        version: int | None,
        *,
        secret_next: bool,
    ) -> None:
        if state is None:
            if version is not None:
                await conversations.clear(ctx.session, inbound.channel, inbound.user_key)
            return
        idle = timedelta(minutes=self.services.settings.idle_minutes)
        if state.flow == AFTER_SECRET:
            idle = AFTER_SECRET_WINDOW
        await conversations.save(
            ctx.session,
            self.services.vault,
            inbound.channel,
            inbound.user_key,
            flow=state.flow,
            step=state.step,
            data=state.data,
            secret=state.secret,
            expected_version=version,
            expires_at=ctx.now + idle,
            now=ctx.now,
            awaiting_secret=secret_next,
        )


def _saved_state(ctx: Context, inbound: Inbound, saved: Saved) -> tuple[State | None, bool]:
    """The step to resume (None when it timed out, which is said), and whether it was
    waiting for a password."""
    data = dict(saved.data)
    secret_next = saved.awaiting_secret
    if saved.expires_at is not None and saved.expires_at <= ctx.now:
        if secret_next and inbound.text is not None:
            # A password typed after the flow timed out: still take it off the chat.
            ctx.delete(inbound.message_ref)
        ctx.say("session.expired")
        return None, secret_next
    return State(saved.flow, saved.step, data, saved.secret), secret_next


def _late_secret(inbound: Inbound, expires_at: datetime | None, now: datetime) -> bool:
    """A plain line, soon after a flow that wanted a password ended, that looks like one
    (one word of six characters or more, with a digit: what NPKI passwords and account
    numbers are; "감사합니다" is not)."""
    text = (inbound.text or "").strip()
    return (
        inbound.command is None
        and (expires_at is None or expires_at > now)
        and len(text) >= _SECRET_LOOKING_MIN
        and not any(c.isspace() for c in text)
        and any(c.isdigit() for c in text)
    )


def _ask_secret_again(out: list[Outbound]) -> None:
    """The flow still waits for a password though this answer did not ask (a press it
    did not expect, say): the last reply says so, so a console reads without echo."""
    for index in range(len(out) - 1, -1, -1):
        item = out[index]
        if isinstance(item, Reply):
            out[index] = replace(item, expects_secret=True)
            return


def _answer_in_group(texts: Texts, inbound: Inbound) -> list[Outbound]:
    """In a group certmate reads no files or passwords and keeps nothing of the members
    who write (they are not its users): it points to a private chat."""
    if inbound.documents:
        removed = (
            []
            if inbound.message_ref is None
            else [Delete(inbound.message_ref, texts("delete.refused"))]
        )
        return [*removed, Reply(texts("group.file_removed"))]
    if inbound.command is not None:
        return [Reply(texts("group.private_only"))]
    return []


def _unknown_key(event: Event) -> str:
    """The fallback's text for what no flow took: `unknown.text`, or one per `Unsupported`."""
    if isinstance(event, Text):
        return "unknown.text"
    kind = event.kind if isinstance(event, Other) else Unsupported.OTHER
    unsupported = next((u for u in Unsupported if u.value == kind), Unsupported.OTHER)
    return f"unknown.{unsupported.value}"


def _gone(ctx: Context, mark: int, event: Event, *, secret_next: bool) -> None:
    """What the step was about (a certificate, a linked account) is gone: deleted in
    another chat or on the page, or an old button's. Answered here once for every flow,
    which ends: what the flow had said is dropped, except a password taken off the chat,
    and a password typed for the vanished thing is taken off too. (A flow looks its
    target up before it writes, so the step stored nothing.)"""
    kept = [item for item in ctx.out[mark:] if isinstance(item, Delete)]
    ctx.out[mark:] = kept
    if secret_next and isinstance(event, Text) and not kept:
        ctx.delete(event.message_ref)


def _cancelled(state: State | None) -> str:
    """What /cancel says: that nothing was going on, that it stopped, and that files or a
    typed detail it held are deleted only when it held some."""
    if state is None:
        return "cancel.nothing"
    return "cancel.done_held" if state.secret is not None else "cancel.done"
