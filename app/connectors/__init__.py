"""Product catalogue connectors, registered by name (`CONNECTORS[kind]`)."""

from __future__ import annotations

from app.connectors.base import (
    CartResult,
    Catalogue,
    CatalogueConnector,
    ConnectorAuthError,
    ConnectorConfigError,
    ConnectorError,
    ConnectorResponseError,
    ConnectorUnavailable,
    Order,
    Product,
    SkippedRecord,
)
from app.connectors.json_catalogue import JsonCatalogueConnector
from app.connectors.magento import MagentoConnector
from app.connectors.odoo import OdooConnector

CONNECTORS: dict[str, type[CatalogueConnector]] = {
    c.kind: c for c in (JsonCatalogueConnector, MagentoConnector, OdooConnector)
}


def connector_class(kind: str) -> type[CatalogueConnector]:
    try:
        return CONNECTORS[kind]
    except KeyError:
        raise ConnectorConfigError(
            f"unknown catalogue type {kind!r} (one of {', '.join(sorted(CONNECTORS))})"
        ) from None


__all__ = [
    "CONNECTORS",
    "CartResult",
    "Catalogue",
    "CatalogueConnector",
    "ConnectorAuthError",
    "ConnectorConfigError",
    "ConnectorError",
    "ConnectorResponseError",
    "ConnectorUnavailable",
    "Order",
    "Product",
    "SkippedRecord",
    "connector_class",
]
