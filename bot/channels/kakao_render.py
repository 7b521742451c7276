"""`Outbound` actions as one Kakao SkillResponse (version 2.0), within Kakao's limits.

Kakao shows at most 3 outputs, simpleText of at most 1,000 characters, at
most 10 quickReplies (labels of at most 14 characters), card buttons at most
3, listCard items at most 5, and takes a body of at most 30,720 bytes. The
texts of one answer are joined and split across the outputs left after the
cards, cut with "…" when they would not fit. Buttons become quickReplies;
a list of choices whose labels are too long for quickReplies (a certificate
`홍길동 · 2026-07-01`) becomes a listCard. Every button sends its opaque
token back as `extra`, which Kakao returns as `action.clientExtra`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any, Final, assert_never

from bot.channels.utf16 import fitting, utf16_len
from handlers.messages import Choice, Delete, OpenLink, Outbound, Reply, SendDocument

MAX_OUTPUTS: Final = 3
MAX_TEXT: Final = 1000
"""Kakao's simpleText limit, counted in UTF-16 code units (as Java counts)."""
MAX_QUICK_REPLIES: Final = 10
MAX_LABEL: Final = 14
MAX_CARD_BUTTONS: Final = 3
MAX_LIST_ITEMS: Final = 5
MAX_LIST_CARDS: Final = 5
"""listCards in one carousel output."""
MAX_LIST_HEADER: Final = 15
MAX_BODY_BYTES: Final = 30_720
EXTRA_KEY: Final = "certmate"
"""The key of the button token in `extra` / `clientExtra`."""
ELLIPSIS: Final = "…"

log = logging.getLogger("certmate.kakao")

Json = dict[str, Any]


def skill_response(outbound: Sequence[Outbound]) -> Json:
    """The SkillResponse for everything the core answered to one message."""
    texts: list[str] = []
    cards: list[Json] = []
    replies = [item for item in outbound if isinstance(item, Reply)]
    # One set of buttons per answer: the last question's, the one the user answers now
    # (an earlier reply's buttons in the same answer, a shown notice's, are not offered).
    for item in outbound:
        match item:
            case Reply():
                texts.append(item.text)
            case Delete():
                if item.if_refused:  # Kakao cannot delete a user's message: ask them to
                    texts.append(item.if_refused)
            case OpenLink():
                cards.append(_link_card(item))
            case SendDocument():  # flows send files through the page here
                log.warning("a document cannot be sent in KakaoTalk; dropped")
            case _:
                assert_never(item)
    question = next((reply for reply in reversed(replies) if reply.choices), None)
    quick: list[Json] = []
    if question is not None and _fit_quick_replies(question.choices):
        quick = [_quick_reply(choice) for choice in question.choices]
    elif question is not None:
        cards.append(_list_cards(question.choices, _header(question)))
    cards = cards[: MAX_OUTPUTS - 1]
    outputs = [{"simpleText": {"text": chunk}} for chunk in _text_chunks(texts, len(cards))]
    response = _response(outputs + cards, quick)
    while _size(response) > MAX_BODY_BYTES and (quick or cards):
        # Never expected with these limits; kept so Kakao never refuses an answer.
        if quick:
            quick = quick[: len(quick) // 2]
        else:
            cards.pop()
        response = _response(outputs + cards, quick)
    return response


def simple_text(text: str) -> Json:
    """A one-text answer (a callback answer when the core failed)."""
    return _response([{"simpleText": {"text": truncate(text, MAX_TEXT)}}], [])


def _response(outputs: list[Json], quick: list[Json]) -> Json:
    template: Json = {"outputs": outputs or [{"simpleText": {"text": ELLIPSIS}}]}
    if quick:
        template["quickReplies"] = quick
    return {"version": "2.0", "template": template}


def _fit_quick_replies(choices: Sequence[Choice]) -> bool:
    return len(choices) <= MAX_QUICK_REPLIES and all(
        utf16_len(c.label) <= MAX_LABEL for c in choices
    )


def _quick_reply(choice: Choice) -> Json:
    return {
        "label": choice.label,
        "action": "message",
        "messageText": choice.label,
        "extra": {EXTRA_KEY: choice.token},
    }


def _list_cards(choices: Sequence[Choice], header: str) -> Json:
    """Choices as listCard items (5 a card), several cards as one carousel output."""
    cards = []
    for start in range(0, min(len(choices), MAX_LIST_ITEMS * MAX_LIST_CARDS), MAX_LIST_ITEMS):
        items = [
            {
                "title": choice.label,
                "action": "message",
                "messageText": choice.label,
                "extra": {EXTRA_KEY: choice.token},
            }
            for choice in choices[start : start + MAX_LIST_ITEMS]
        ]
        cards.append({"header": {"title": header}, "items": items})
    if len(choices) > MAX_LIST_ITEMS * MAX_LIST_CARDS:
        log.warning("%d choices do not fit KakaoTalk's cards; the rest dropped", len(choices))
    if len(cards) == 1:
        return {"listCard": cards[0]}
    return {"carousel": {"type": "listCard", "items": cards}}


def _header(question: Reply) -> str:
    """A listCard needs a header: the first line of the question, shortened."""
    return truncate(question.text.strip().split("\n", 1)[0], MAX_LIST_HEADER) or ELLIPSIS


def _link_card(link: OpenLink) -> Json:
    card: Json = {
        "buttons": [
            {"action": "webLink", "label": truncate(link.label, MAX_LABEL), "webLinkUrl": link.url}
        ][:MAX_CARD_BUTTONS]
    }
    card["description" if link.text else "title"] = truncate(link.text or link.label, 400)
    return {"textCard": card}


def _text_chunks(texts: Sequence[str], cards: int) -> list[str]:
    """The texts in at most the outputs the cards leave, each within `MAX_TEXT`."""
    budget = max(MAX_OUTPUTS - cards, 1)
    joined = "\n\n".join(text.strip() for text in texts if text.strip())
    if not joined:
        return [] if cards else [ELLIPSIS]
    chunks: list[str] = []
    rest = joined
    while rest and len(chunks) < budget:
        if utf16_len(rest) <= MAX_TEXT:
            chunks.append(rest)
            rest = ""
            break
        fits = fitting(rest, MAX_TEXT)
        at = rest.rfind("\n", 0, fits + 1)
        cut = at if at > fits // 2 else fits
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip("\n")
    if rest:  # more than Kakao shows: the last output says so
        chunks[-1] = truncate(chunks[-1] + "\n" + rest)
    return chunks


def truncate(text: str, limit: int = MAX_TEXT) -> str:
    """`text` within `limit` UTF-16 code units: cut at the last line end that fits and
    marked with "…" on a line of its own (mid-line only when no line end fits)."""
    if utf16_len(text) <= limit:
        return text
    fits = fitting(text, limit - 2)  # room for "\n…"
    cut = text.rfind("\n", 0, fits + 1)
    if cut > 0 and text[:cut].strip():
        return f"{text[:cut].rstrip()}\n{ELLIPSIS}"
    return text[: fitting(text, limit - 1)] + ELLIPSIS


def _size(response: Json) -> int:
    return len(json.dumps(response, ensure_ascii=False).encode())
