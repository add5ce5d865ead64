"""Product answers: find a workspace's catalogue products for a visitor's question and build
the cards the widget shows under the answer.

Filters are read from the question ("under $120", "below 50" → max price; a word naming
one of the workspace's categories → that category) and applied to the stored product rows;
the survivors are ranked by the hybrid search over their vector points. Cards are built
from the stored rows only (never from model text), and an image is shown only when it is
served by the catalogue's own host.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

from sqlmodel import Session, col, select

from app.db import TenantScope
from app.models import Catalogue, CatalogueProduct
from app.services.catalogues import base_url

MAX_CARDS = 4
MAX_FILTERED_IDS = 2000  # the engine filter takes a list of ids; more is not a "filter"
# Cosine of the question to the best product (all-MiniLM-L6-v2) below which a question
# without filters is not taken as a product question ("what are your opening hours?").
MIN_PRODUCT_SIMILARITY = 0.3
_PRICE = re.compile(
    r"\b(?:under|below|less than|cheaper than|max(?:imum)?|at most|up to|no more than)"
    r"\s*(?:[$€£]\s*)?(\d{1,7}(?:[.,]\d{1,2})?)",
    re.IGNORECASE,
)
_WORD = re.compile(r"[a-z0-9]+")
_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}


@dataclass(frozen=True, slots=True)
class ProductQuery:
    max_price: Decimal | None = None
    category: str | None = None

    @property
    def filtered(self) -> bool:
        return self.max_price is not None or self.category is not None


@dataclass(frozen=True, slots=True)
class ProductCard:
    id: str
    title: str
    price: str  # formatted, from the stored row
    stock: str  # "In stock" | "Out of stock" | ""
    image_url: str  # "" unless on the catalogue's own host
    product_url: str
    can_cart: bool = False  # "Add to cart" shown (app.services.action_builtins)


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


def parse_query(question: str, categories: Iterable[str]) -> ProductQuery:
    """Max price and category recognised in the question (None where absent)."""
    max_price = None
    match = _PRICE.search(question)
    if match:
        try:
            max_price = Decimal(match.group(1).replace(",", "."))
        except InvalidOperation:
            max_price = None
    words = {_stem(w) for w in _WORD.findall(question.lower())}
    category = None
    for name in categories:
        parts = [_stem(w) for w in _WORD.findall(name.lower())]
        if parts and all(p in words for p in parts):
            category = name
            break
    return ProductQuery(max_price, category)


def format_price(price: Decimal, currency: str) -> str:
    symbol = _SYMBOLS.get(currency.upper())
    return f"{symbol}{price:,.2f}" if symbol else f"{price:,.2f} {currency.upper()}"


def _host(url: str | None) -> str:
    return (urlsplit(url or "").hostname or "").lower()


def own_image(image_url: str | None, shop_hosts: set[str]) -> str:
    """The image URL when its host is the shop's (or a subdomain of it), else ""."""
    host = _host(image_url)
    if not host or urlsplit(image_url or "").scheme not in ("http", "https"):
        return ""
    if any(host == h or host.endswith("." + h) for h in shop_hosts if h):
        return str(image_url)
    return ""


def _stock(row: CatalogueProduct) -> str:
    if row.in_stock is None:
        return ""
    return "In stock" if row.in_stock else "Out of stock"


def build_cards(session: Session, tenant_id: str, product_ids: Sequence[str]) -> list[ProductCard]:
    """Cards for these products of this tenant, in this order (unknown ids are dropped)."""
    if not product_ids:
        return []
    TenantScope(session, tenant_id)  # binds the tenant (row-level security, app/rls.py)
    rows = {
        r.id: r
        for r in session.exec(
            select(CatalogueProduct).where(
                CatalogueProduct.tenant_id == tenant_id,
                col(CatalogueProduct.id).in_(list(product_ids)),
            )
        )
    }
    hosts: dict[str, set[str]] = {}
    for cat in session.exec(
        select(Catalogue).where(
            Catalogue.tenant_id == tenant_id,
            col(Catalogue.id).in_({r.catalogue_id for r in rows.values()}),
        )
    ):
        hosts[cat.id] = {_host(base_url(cat))}
    cards = []
    for pid in product_ids:
        row = rows.get(pid)
        if row is None:
            continue
        cards.append(
            ProductCard(
                id=row.id,
                title=row.title,
                price=format_price(row.price, row.currency),
                stock=_stock(row),
                image_url=own_image(row.image_url, hosts.get(row.catalogue_id, set())),
                product_url=row.product_url or "",
            )
        )
    return cards


def _candidates(session: Session, tenant_id: str, query: ProductQuery) -> list[str] | None:
    """Ids of the products that pass the filters (None: no filter, every product)."""
    if not query.filtered:
        return None
    TenantScope(session, tenant_id)  # binds the tenant (row-level security, app/rls.py)
    stmt = select(CatalogueProduct.id).where(CatalogueProduct.tenant_id == tenant_id)
    if query.max_price is not None:
        stmt = stmt.where(col(CatalogueProduct.price) <= query.max_price)
    if query.category is not None:
        stmt = stmt.where(CatalogueProduct.category == query.category)
    return list(session.exec(stmt.limit(MAX_FILTERED_IDS)))


def has_products(session: Session, tenant_id: str) -> bool:
    TenantScope(session, tenant_id)  # binds the tenant (row-level security, app/rls.py)
    query = select(CatalogueProduct.id).where(CatalogueProduct.tenant_id == tenant_id).limit(1)
    return session.exec(query).first() is not None


def find_products(
    session: Session,
    tenant_id: str,
    question: str,
    store: object,
    embed_query: object,
    *,
    limit: int = MAX_CARDS,
) -> list[ProductCard]:
    """Cards for a product question, best first; [] when it is not one (or nothing fits).

    `store` is the process's VectorStore, `embed_query` a callable text -> vector."""
    if not has_products(session, tenant_id):
        return []
    categories = list(
        session.exec(
            select(CatalogueProduct.category)
            .where(CatalogueProduct.tenant_id == tenant_id, CatalogueProduct.category != "")
            .distinct()
            .limit(200)
        )
    )
    query = parse_query(question, categories)
    candidates = _candidates(session, tenant_id, query)
    if candidates == []:
        return []
    vector = embed_query(question)  # type: ignore[operator]
    hits = store.search_hybrid(  # type: ignore[attr-defined]
        tenant_id, vector, question, limit * 6, document_ids=candidates
    )
    ids = [h.document_id for h in hits]
    product_ids = set(
        session.exec(
            select(CatalogueProduct.id).where(
                CatalogueProduct.tenant_id == tenant_id, col(CatalogueProduct.id).in_(ids)
            )
        )
    )
    ranked = list(dict.fromkeys(i for i in ids if i in product_ids))[:limit]
    if not ranked:
        return []
    if not query.filtered:
        best = store.search_dense(tenant_id, vector, 1, document_ids=ranked)  # type: ignore[attr-defined]
        if not best or best[0].score < MIN_PRODUCT_SIMILARITY:
            return []
    return build_cards(session, tenant_id, ranked)


def cards_for(tenant_id: str, question: str) -> list[ProductCard]:
    """`find_products` with the process's store and query embedder (the widget's call)."""
    from app.db import session_scope
    from app.services.vectors import get_store, query_embedder

    with session_scope() as session:
        if not has_products(session, tenant_id):
            return []  # most workspaces: no catalogue, so no store or embedding work at all
        return find_products(
            session, tenant_id, question, get_store(), query_embedder().embed_query
        )
