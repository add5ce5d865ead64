"""Reflex build plugin: keep each page's JavaScript to what the page uses.

Reflex exposes some libraries on `window.__reflex` for components built on the backend at
run time (`rx.dynamic`, ComponentState). With Radix Themes enabled it puts
`import("@radix-ui/themes")` (the whole namespace) in the app root. Because that import
keeps every export alive, the bundler (Rolldown) then builds one shared chunk of ALL of
Radix Themes (Select, ContextMenu, DropdownMenu, …: 76 KB gzipped) that every page loads,
the visitor's chat page included. This app renders no dynamic components, so Radix Themes
is taken off that list: each page then imports only the Radix components it uses.

Registered in rxconfig.py (`plugins=[LeanBundlePlugin()]`).
"""

from __future__ import annotations

from typing import Any

from reflex_base.plugins.base import Plugin
from reflex_base.registry import RegistrationContext

UNBUNDLED_PREFIXES = ("@radix-ui/themes",)


class LeanBundlePlugin(Plugin):
    """Drop Radix Themes from the libraries Reflex exposes to dynamic components."""

    def pre_compile(self, **context: Any) -> None:
        # Runs after Reflex registered the plugins' frontend dependencies and before the
        # app root (which imports the bundled libraries) is compiled.
        libraries = RegistrationContext.ensure_context().bundled_libraries
        libraries[:] = [lib for lib in libraries if not lib.startswith(UNBUNDLED_PREFIXES)]
