"""Reflex configuration, derived from app/settings.py (the one place settings are read)."""

import reflex as rx
from reflex.plugins.sitemap import SitemapPlugin

from app.frontend_build import LeanBundlePlugin
from app.settings import get_settings

_settings = get_settings()

config = rx.Config(
    app_name="app",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    # Prod mode serves the compiled frontend and the backend on this one port.
    frontend_port=_settings.port,
    backend_port=_settings.port,
    api_url=_settings.public_url,
    deploy_url=_settings.public_url,
    # Reflex defaults to "*"; only our own origin may call the backend.
    cors_allowed_origins=[_settings.public_origin],
    redis_url=_settings.redis_url,
    state_manager_mode="redis" if _settings.redis_url else "memory",
    disable_plugins=[SitemapPlugin],
    plugins=[
        rx.plugins.RadixThemesPlugin(
            theme=rx.theme(
                appearance="inherit",
                accent_color="indigo",
                gray_color="slate",
                radius="large",
                scaling="100%",
            )
        ),
        # Last, so it sees what the theme plugin registered: pages import only the Radix
        # components they use (see app/frontend_build.py).
        LeanBundlePlugin(),
    ],
)
