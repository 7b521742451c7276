"""Rendering `Outbound` as a SkillResponse: whatever the core says, Kakao's limits hold."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.channels.kakao_render import MAX_BODY_BYTES, skill_response
from handlers.messages import Choice, Delete, OpenLink, Outbound, Reply, SendDocument

TOKEN = "A" * 22
texts = st.text(min_size=0, max_size=2500)
choices = st.lists(st.builds(Choice, st.text(min_size=1, max_size=40), st.just(TOKEN)), max_size=40)
outbound = st.one_of(
    st.builds(Reply, texts, choices.map(tuple)),
    st.builds(Delete, st.just("kakao"), texts),
    st.builds(
        OpenLink, st.just("https://certmate.example/u/" + TOKEN), st.text(max_size=30), texts
    ),
    st.builds(SendDocument, st.just("x.zip"), st.just(b"PK")),
)


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@settings(max_examples=300, deadline=None)
@given(st.lists(outbound, max_size=8))
def test_any_answer_fits_kakaos_limits(answer: list[Outbound]) -> None:
    """At most 3 outputs (at least 1), texts within 1,000 UTF-16 units, at most 10
    quickReplies of at most 14 characters, cards of at most 3 buttons, listCards of at
    most 5 items, and the whole body within 30,720 bytes."""
    response = skill_response(answer)
    template = response["template"]
    assert response["version"] == "2.0"
    assert 1 <= len(template["outputs"]) <= 3
    for output in template["outputs"]:
        (kind,) = output
        if kind == "simpleText":
            assert _units(output[kind]["text"]) <= 1000
        elif kind == "textCard":
            assert len(output[kind]["buttons"]) <= 3
        elif kind == "listCard":
            assert 1 <= len(output[kind]["items"]) <= 5
        else:
            assert kind == "carousel"
            assert len(output[kind]["items"]) <= 5
            assert all(len(card["items"]) <= 5 for card in output[kind]["items"])
    quick = template.get("quickReplies", [])
    assert len(quick) <= 10
    assert all(_units(q["label"]) <= 14 for q in quick)
    assert len(json.dumps(response, ensure_ascii=False).encode()) <= MAX_BODY_BYTES


def test_a_long_text_is_split_at_line_ends_and_summarised() -> None:
    """A text over 1,000 characters goes to the next output at a line end; beyond three
    outputs the last one ends with "…"."""
    line = "가" * 99 + "\n"
    response = skill_response([Reply(line * 40)])
    outputs = [o["simpleText"]["text"] for o in response["template"]["outputs"]]
    assert len(outputs) == 3
    assert all(text.endswith("가") for text in outputs[:2])
    assert outputs[2].endswith("…")


def test_buttons_carry_their_token_and_links_become_cards() -> None:
    """Short choices are quickReplies sending their label with the token as `extra`; a
    link is a textCard with a webLink button; a refused delete asks the user to."""
    response = skill_response(
        [
            Delete("kakao", "지워 주세요"),
            OpenLink("https://x.example/u/t", "열기", "설명"),
            Reply("고르세요", (Choice("예", TOKEN),)),
        ]
    )
    template = response["template"]
    assert template["quickReplies"] == [
        {"label": "예", "action": "message", "messageText": "예", "extra": {"certmate": TOKEN}}
    ]
    card = next(o["textCard"] for o in template["outputs"] if "textCard" in o)
    assert card["buttons"] == [
        {"action": "webLink", "label": "열기", "webLinkUrl": "https://x.example/u/t"}
    ]
    assert "지워 주세요" in template["outputs"][0]["simpleText"]["text"]
