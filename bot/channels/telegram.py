"""The Telegram channel: python-telegram-bot for transport, the core for everything else.

Updates arrive by long polling or on the webhook route of the project's one
aiohttp server; either way each is recorded in the inbox (bot/inbox.py)
before Telegram is told it arrived, then handled in order per user. This
module only translates: an Update becomes an `Inbound`, each `Outbound`
becomes Bot API calls. Texts go out without a parse mode, so nothing a user
chose (a certificate holder's name, a nickname) can break the formatting.
Documents are refused on their declared size before any download, and never
downloaded in a group chat.
"""

from __future__ import annotations

import asyncio
import logging
import os
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Final, assert_never

from aiohttp import web
from telegram import (
    Bot,
    BotCommand,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
    WebAppInfo,
)
from telegram.constants import ChatType, MessageEntityType, MessageLimit
from telegram.error import BadRequest, Forbidden, NetworkError, TelegramError
from telegram.ext import Application, ExtBot

from bot.channels.pacer import Pacer
from bot.channels.telegram_limits import TelegramRateLimiter
from bot.channels.telegram_poller import ALLOWED_UPDATES, PollerLease, poll_updates
from bot.channels.telegram_poller import ROLE as POLLER_ROLE
from bot.channels.utf16 import fitting
from bot.config import TelegramSettings
from bot.inbox import Body, Inbox
from bot.metrics import Metrics
from bot.reminders.notifiers import Notifier, NotifierError, UserUnreachable
from bot.web import BadJson, parse_json, same_secret
from handlers.assistant import Assistant
from handlers.i18n import DEFAULT_LOCALE, LOCALES, Catalog
from handlers.messages import (
    ChannelTraits,
    Choice,
    Delete,
    Document,
    Inbound,
    OpenLink,
    Outbound,
    Reply,
    SendDocument,
    Unsupported,
)
from handlers.registry import Flows
from storage.models import Channel, User
from storage.transient import is_transient

TRAITS: Final = ChannelTraits(
    takes_files=True, deletes_messages=True, messages_first=True,
    rate_limited=True, offers_page=True, sends_files=True,
)  # fmt: skip
"""Telegram takes and sends files, deletes a typed password, messages first; its
private chats also open the secure page as a Web App."""
WEBHOOK_PATH: Final = "/telegram/webhook"
SECRET_HEADER: Final = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105  (a header name)

log = logging.getLogger("certmate.telegram")

TelegramApp = Application[Any, Any, Any, Any, Any, Any]


def quiet_library_logs() -> None:
    """python-telegram-bot logs update bodies at DEBUG, httpx request URLs (holding the
    token) at INFO, aiosqlite every SQL statement with its values at DEBUG: keep them at
    WARNING whatever the root level is, so no message text can reach a log."""
    for name in ("telegram", "httpx", "httpcore", "aiosqlite"):
        logging.getLogger(name).setLevel(logging.WARNING)


def build_application(
    settings: TelegramSettings, pacer: Pacer | None = None, metrics: Metrics | None = None
) -> TelegramApp:
    """The PTB application used for transport only: no updater (updates come through the
    inbox), our rate limiter (its schedules in `pacer`: shared by every process of the
    bot, or this process's own by default), and the configured Bot API server."""
    os.environ.setdefault("PTB_TIMEDELTA", "true")  # durations as timedelta, the v23 way
    quiet_library_logs()
    limiter = TelegramRateLimiter(
        per_second=settings.messages_per_second,
        chat_per_second=settings.chat_messages_per_second,
        pacer=pacer,
        metrics=metrics,
    )
    return (
        Application.builder()
        .token(settings.token)
        .base_url(settings.base_url)
        .base_file_url(settings.base_file_url)
        .rate_limiter(limiter)
        .updater(None)
        .build()
    )


@dataclass(frozen=True, slots=True)
class _Target:
    """Where the answers to one update go."""

    chat_id: int
    inbound: Inbound


class TelegramChannel:
    """Translates between Telegram and the conversation core."""

    def __init__(
        self,
        application: TelegramApp,
        assistant: Assistant,
        settings: TelegramSettings,
        *,
        upload_limit: int,
        webhook_url: str,
        process_name: str,
        metrics: Metrics | None = None,
    ) -> None:
        self.application = application
        self.assistant = assistant
        self.settings = settings
        self.upload_limit = upload_limit
        self.webhook_url = webhook_url
        services = assistant.services
        self.inbox = Inbox(
            services.database,
            services.vault,
            Channel.TELEGRAM,
            handle=self.handle,
            lane_of=lane_of,
            clock=services.clock,
            owner=process_name,
            transient=transient,
            metrics=metrics,
        )
        self.poller = PollerLease(
            services.database,
            process_name,
            partial(poll_updates, self.bot, self.inbox.receive_many, services.clock),
            services.clock,
            lease=timedelta(seconds=settings.poll_lease_seconds),
            every=timedelta(seconds=settings.poll_try_seconds),
        )
        self._polling: asyncio.Task[None] | None = None

    @property
    def bot(self) -> ExtBot[Any]:
        return self.application.bot  # type: ignore[no-any-return]

    # --- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Connect (getMe), publish the command menu, start the inbox (it takes the
        updates a crash or stop left pending, here or in another process), set or clear
        the webhook, and in polling mode start trying for the poller lease (the process
        holding it polls)."""
        await self.application.initialize()
        await publish_commands(self.bot, self.assistant.flows, self.assistant.services.catalog)
        self.inbox.start()
        if self.settings.mode == "webhook":
            await self.bot.set_webhook(
                self.webhook_url,
                secret_token=self.settings.webhook_secret,
                allowed_updates=list(ALLOWED_UPDATES),
            )
        else:
            await self.bot.delete_webhook()
        if self.settings.mode == "polling":
            self._polling = asyncio.create_task(self.poller.run(), name="telegram-poller")

    async def stop(self, grace: float) -> None:
        """Stop taking updates (the poller lease freed at once), let those taken finish
        within `grace` seconds, release this process's lanes (another process takes what
        is left at once), then disconnect."""
        await self.stop_taking()
        if not await self.inbox.stop(grace):
            log.warning("stopped with Telegram updates unhandled; they stay in the inbox")
        await self.application.shutdown()

    async def stop_taking(self) -> None:
        """Take no more updates from Telegram: the poller lease is freed at once, so
        another process polls within one try (webhook updates stop with the server)."""
        if self._polling is not None:
            self._polling.cancel()
            await asyncio.gather(self._polling, return_exceptions=True)
            self._polling = None

    def add_routes(self, app: web.Application) -> None:
        """The webhook route on the shared HTTP server, in webhook mode."""
        if self.settings.mode == "webhook":
            app.router.add_post(WEBHOOK_PATH, self.webhook)

    @property
    def channel(self) -> Channel:
        return Channel.TELEGRAM

    @property
    def summary(self) -> str:
        return f"Telegram is on ({self.settings.mode})"

    def notifier(self, pacer: Pacer) -> Notifier:  # noqa: ARG002  (its sends are paced already)
        """Reminders as messages through this bot (paced by its rate limiter)."""
        return TelegramNotifier(self.bot)

    @property
    def roles(self) -> str:
        return POLLER_ROLE if self.poller.polling else ""

    @property
    def roles_changed(self) -> asyncio.Event:
        return self.poller.changed

    # --- intake ----------------------------------------------------------------------

    async def webhook(self, request: web.Request) -> web.Response:
        """One update from Telegram: 403 without the secret; 200 only once it is recorded
        (a duplicate is acknowledged and dropped)."""
        if not same_secret(request.headers.get(SECRET_HEADER), self.settings.webhook_secret):
            return web.Response(status=403)
        try:
            body = parse_json(await request.read())
        except BadJson:
            return web.Response(status=400)
        update_id = body.get("update_id") if isinstance(body, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            return web.Response(status=400)
        await self.inbox.receive(str(update_id), body)
        return web.Response(status=200)

    # --- one update ------------------------------------------------------------------

    async def handle(self, body: Body) -> None:
        """Translate, let the core answer, render the answer. It raises only before the
        conversation step committed (a download or the database failing: the inbox tries
        the update again); once the step is committed a failure is logged and the update
        counts as handled, as running the step again would answer a state that has moved
        on (python-telegram-bot has already retried what it could)."""
        update = Update.de_json(body, self.bot)
        if update.callback_query is not None:
            await _answer(update.callback_query)
        target = await self._translate(update)
        if target is None:
            return
        outbound = await self.assistant.handle(target.inbound)
        try:
            try:
                await self.render(target.chat_id, outbound)
            except Forbidden:
                await self.assistant.mark_unreachable(target.inbound)
        except Exception as err:  # noqa: BLE001  (the step is committed: see above)
            where = traceback.extract_tb(err.__traceback__)[-1]
            log.warning(
                "the answer to a Telegram update was not delivered: %s at %s:%s",
                type(err).__name__,
                Path(where.filename).name,
                where.lineno,
            )

    async def _translate(self, update: Update) -> _Target | None:
        user, chat = update.effective_user, update.effective_chat
        if user is None or chat is None or user.is_bot:
            return None
        private = chat.type == ChatType.PRIVATE
        inbound = partial(Inbound, Channel.TELEGRAM, str(user.id), private=private)
        query = update.callback_query
        if query is not None:
            return _Target(chat.id, inbound(button=query.data)) if query.data else None
        message = update.message
        if message is None:
            return None
        ref = f"{chat.id}:{message.message_id}"
        if message.document is not None:
            found = await self._document(message, private)
            if isinstance(found, Unsupported):
                return _Target(chat.id, inbound(message_ref=ref, unsupported=found))
            return _Target(chat.id, inbound(message_ref=ref, documents=(found,)))
        if message.text is not None:
            command = self._command(message)
            if command is not None:
                name, args = command
                return _Target(chat.id, inbound(message_ref=ref, command=name, args=args))
            return _Target(chat.id, inbound(message_ref=ref, text=message.text))
        kind = (
            Unsupported.PHOTO
            if message.photo
            else Unsupported.STICKER
            if message.sticker
            else Unsupported.OTHER
        )
        return _Target(chat.id, inbound(message_ref=ref, unsupported=kind))

    async def _document(self, message: Message, private: bool) -> Document | Unsupported:
        """The file's bytes; refused on its declared size before downloading, and not
        downloaded at all in a group (the core only removes it there)."""
        document = message.document
        if document is None:
            raise ValueError("not a document message")
        name = document.file_name or "document"
        if not private:
            return Document(name, b"")
        if document.file_size is not None and document.file_size > self.upload_limit:
            return Unsupported.OVERSIZED
        file = await self.bot.get_file(document.file_id)
        data = bytes(await file.download_as_bytearray())
        if len(data) > self.upload_limit:
            return Unsupported.OVERSIZED
        return Document(name, data)

    def _command(self, message: Message) -> tuple[str, str] | None:
        """`/name@thisbot args` -> (name, args), when Telegram marked a command at the start."""
        text = message.text or ""
        entity = next(
            (e for e in message.entities if e.type == MessageEntityType.BOT_COMMAND), None
        )
        if entity is None or entity.offset != 0:
            return None
        word = text[1 : entity.length]
        name, _, addressed = word.partition("@")
        if addressed and addressed.lower() != (self.bot.username or "").lower():
            name = word  # not addressed to us: keep it whole (it may be a password)
        return name.lower(), text[entity.length :].strip()

    # --- answers ---------------------------------------------------------------------

    async def render(self, chat_id: int, outbound: Sequence[Outbound]) -> None:
        """Every action, in order. Raises `Forbidden` when the user blocked the bot."""
        for item in outbound:
            match item:
                case Reply():
                    await send_reply(self.bot, chat_id, item)
                case Delete():
                    await self._delete(chat_id, item)
                case SendDocument():
                    await self.bot.send_document(chat_id, item.data, filename=item.filename)
                case OpenLink():
                    await self._link(chat_id, item)
                case _:
                    assert_never(item)

    async def _delete(self, chat_id: int, item: Delete) -> None:
        chat, _, message_id = item.message_ref.partition(":")
        try:
            await self.bot.delete_message(int(chat or chat_id), int(message_id))
        except (BadRequest, Forbidden, ValueError):
            # Too old (48 h), or a group where certmate may not delete: ask the user.
            if item.if_refused:
                await self.bot.send_message(chat_id, item.if_refused)

    async def _link(self, chat_id: int, item: OpenLink) -> None:
        """An https page opens as a Telegram Web App (inside Telegram, private chats
        only, which is where certmate works); anything else as a plain link."""
        text = item.text or item.label
        if item.url.startswith("https://"):
            button = InlineKeyboardButton(item.label, web_app=WebAppInfo(item.url))
            await self.bot.send_message(
                chat_id, text, reply_markup=InlineKeyboardMarkup([[button]])
            )
        else:  # Telegram takes only https links on buttons
            await self.bot.send_message(chat_id, f"{text}\n{item.url}")


class TelegramNotifier:
    """Reminders to Telegram users: a message in their private chat with the bot, paced
    by the bot's rate limiter like every other send."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send(
        self,
        user: User,
        message: Reply,
        certificates: Sequence[str],  # noqa: ARG002  (the notifier interface)
        now: datetime,  # noqa: ARG002
    ) -> str:
        try:
            sent = await send_reply(self.bot, int(user.user_key), message)
        except Forbidden as err:
            raise UserUnreachable("the user blocked the bot") from err
        except (TelegramError, ValueError) as err:
            raise NotifierError(type(err).__name__) from err
        return str(sent.message_id)


async def send_reply(bot: Bot, chat_id: int, reply: Reply) -> Message:
    """The text in as many messages as Telegram's length limit needs, the buttons under
    the last one; returns the last message."""
    *first, last = split_text(reply.text)
    for chunk in first:
        await bot.send_message(chat_id, chunk)
    return await bot.send_message(chat_id, last, reply_markup=keyboard(reply.choices))


async def publish_commands(bot: Bot, flows: Flows, catalog: Catalog) -> None:
    """The command menu in every language: the default locale's for everyone (no language
    code), each other one for apps set to that language."""
    for locale in LOCALES:
        commands = [BotCommand(name, text) for name, text in flows.command_menu(catalog, locale)]
        language_code = None if locale == DEFAULT_LOCALE else locale
        await bot.set_my_commands(commands, language_code=language_code)


def transient(error: BaseException) -> bool:
    """A database or network failure another try may get past; Telegram refusing a
    request (`BadRequest`) is not one."""
    if isinstance(error, NetworkError) and not isinstance(error, BadRequest):
        return True
    return is_transient(error)


def lane_of(body: Body) -> str:
    """The user an update belongs to (their updates are handled in order)."""
    for key in ("message", "edited_message", "callback_query"):
        part = body.get(key)
        if isinstance(part, dict) and isinstance(part.get("from"), dict):
            return str(part["from"].get("id"))
    return "-"


def keyboard(choices: Sequence[Choice]) -> InlineKeyboardMarkup | None:
    """One button a row; callback_data is the core's opaque token (at most 64 bytes)."""
    if not choices:
        return None
    rows = []
    for choice in choices:
        if len(choice.token.encode()) > 64:
            raise ValueError("a button token is longer than Telegram's 64 bytes")
        rows.append([InlineKeyboardButton(choice.label, callback_data=choice.token)])
    return InlineKeyboardMarkup(rows)


def split_text(text: str, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """`text` in pieces Telegram takes (at most `limit` UTF-16 code units, as it counts),
    cut at line ends where possible."""
    pieces: list[str] = []
    rest = text
    while (fits := fitting(rest, limit)) < len(rest):
        cut = rest.rfind("\n", 0, fits + 1)
        if cut <= 0:
            cut = fits
        pieces.append(rest[:cut])
        rest = rest[cut:].lstrip("\n")
    if rest or not pieces:
        pieces.append(rest)
    return pieces


async def _answer(query: CallbackQuery) -> None:
    """Every button press is answered, or the app shows a spinner; failure is harmless."""
    try:
        await query.answer()
    except TelegramError as err:
        log.info("answerCallbackQuery failed (%s)", type(err).__name__)
