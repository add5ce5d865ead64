"""What the chat page shows of a conversation: messages, citation chips, product cards.

Plain dataclasses (Reflex state vars of `EmbedState`), built from stored rows and sources;
nothing here trusts model text beyond what it renders.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.state.embed_actions import ConfirmCard


@dataclass
class Chip:
    """A citation: the label on the chip and the quoted passage it opens."""

    n: int = 0
    label: str = ""
    passage: str = ""
    # A crawled page's address: linked from the open card whatever the widget's allowed
    # domains (it comes from the index, not from model text). Only http(s) is kept.
    url: str = ""


@dataclass
class Card:
    """A product card under an answer, from the stored product row (never model text)."""

    id: str = ""
    title: str = ""
    price: str = ""
    stock: str = ""
    image_url: str = ""
    product_url: str = ""
    can_cart: bool = False  # the shop has a cart API and the widget has add_to_cart on


def cards_from(rows: list[dict[str, Any]]) -> list[Card]:
    """Cards as stored on a message (app.models.Message.cards), unknown keys dropped."""
    names = set(Card.__dataclass_fields__)
    return [Card(**{k: v for k, v in r.items() if k in names}) for r in rows if isinstance(r, dict)]


@dataclass
class ChatItem:
    id: str = ""
    role: str = "user"
    text: str = ""  # answers: HTML rendered from sanitized markdown; questions: plain text
    chips: list[Chip] = field(default_factory=list)
    feedback: int = 0  # 1, -1, or 0 for none
    notice: str = ""
    author: str = ""  # staff replies: the person's name
    cards: list[Card] = field(default_factory=list)
    confirms: list[ConfirmCard] = field(default_factory=list)


def _chip_label(source: dict[str, Any]) -> str:
    title = str(source.get("title") or "Document")[:80]
    if source.get("kind") == "qa":
        return f"{title} · FAQ"
    if source.get("page"):
        return f"{title} · p. {source['page']}"
    if source.get("section") and str(source["section"]).strip() != title.strip():
        return f"{title} · {str(source['section'])[:60]}"
    return title


def _page_url(value: Any) -> str:
    url = str(value or "")
    return url if url.startswith(("https://", "http://")) and len(url) <= 2000 else ""


def chips_for(answer: str, sources: list[dict[str, Any]]) -> list[Chip]:
    """Chips for the sources the answer cites ([n]); all of them when it cites none."""
    cited = [s for s in sources if f"[{s.get('n')}]" in answer]
    return [
        Chip(
            n=int(s.get("n") or 0),
            label=_chip_label(s),
            passage=str(s.get("text") or "")[:1200],
            url=_page_url(s.get("url")),
        )
        for s in (cited or sources)
    ]
