"""A crawled chunk's page URL travels from the node to the answer's sources and the chip."""

from __future__ import annotations

from llama_index.core.schema import NodeWithScore, TextNode

from app.rag.workflow import sources_from_nodes
from app.state.embed_items import chips_for


def _node(url: str | None) -> NodeWithScore:
    meta = {"document_id": "d1", "title": "Install guide", "section": "Ports", "chunk_index": 0}
    if url:
        meta["url"] = url
    return NodeWithScore(node=TextNode(text="Open port 8443.", metadata=meta), score=0.8)


def test_sources_carry_the_page_url() -> None:
    web, upload = sources_from_nodes([_node("https://docs.acme.test/install"), _node(None)])
    assert web.url == "https://docs.acme.test/install" and upload.url is None


def test_chip_links_to_the_page_whatever_the_allowed_domains() -> None:
    sources = [
        {
            "n": 1,
            "title": "Install guide",
            "section": "Ports",
            "text": "Open port 8443.",
            "url": "https://docs.acme.test/install",
        },
        {"n": 2, "title": "Evil", "text": "x", "url": "javascript:alert(1)"},
        {"n": 3, "title": "Upload", "text": "y"},
    ]
    chips = chips_for("Open port 8443 [1][2][3].", sources)
    assert [c.url for c in chips] == ["https://docs.acme.test/install", "", ""]
    assert chips[0].label == "Install guide · Ports"
