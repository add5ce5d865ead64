"""The README's "Adding a LlamaHub-style reader and a node postprocessor" example runs as
written, and does what the README says it does."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
FAQ = """Do you sell decaf?
Yes: our Swiss Water decaf is sold in 250 g and 1 kg bags.

How long does shipping take?
Orders arrive in 3 to 5 business days.

Can I return opened coffee?
Opened bags can be returned within 14 days for store credit.
"""


def _example() -> str:
    text = README.read_text()
    match = re.search(r"<!-- example: knowledge -->\n```python\n(.*?)```", text, re.S)
    assert match, "the README example block is missing"
    return match.group(1)


def test_readme_reader_and_postprocessor_example(tmp_path: Path) -> None:
    faq_path = tmp_path / "faq.txt"
    faq_path.write_text(FAQ)
    namespace: dict[str, object] = {"workdir": tmp_path, "faq_path": faq_path}
    exec(compile(_example(), str(README), "exec"), namespace)
    hits = namespace["hits"]
    nodes = namespace["nodes"]
    assert len(nodes) == 3  # type: ignore[arg-type]
    assert hits, "the decaf question found nothing"
    top = hits[0]  # type: ignore[index]
    assert "Swiss Water decaf" in top.node.get_content()
    assert top.node.metadata["tenant_id"] == "acme" and top.node.metadata["section"] == (
        "Do you sell decaf?"
    )
    # The postprocessor changed the result: without it top_k=3 returns all three blocks.
    assert len(hits) < 3  # type: ignore[arg-type]
    assert all((h.score or 0) >= 0.5 for h in hits)  # type: ignore[attr-defined]
