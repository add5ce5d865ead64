"""Reflex build plugin: keep every page's download to what the app uses.

Measured on the visitors' chat page (/embed/<id>), which must stay light (bench/embed.py):

1. JavaScript. Reflex exposes some libraries on `window.__reflex` for components built on
   the backend at run time (`rx.dynamic`, ComponentState). With Radix Themes enabled it
   puts `import("@radix-ui/themes")` (the whole namespace) in the app root. That keeps
   every export alive, so the bundler (Rolldown) built one shared chunk of ALL of Radix
   Themes (Select, ContextMenu, DropdownMenu, …: 76 KB gzipped) that every page loaded.
   This app renders no dynamic components, so Radix Themes is taken off that list and each
   page imports only the Radix components it uses.
2. CSS. Radix's `styles.css` carries all 30 colour scales (light, dark, alpha and P3
   variants: 35 KB gzipped of tokens). The global stylesheet imports the base tokens and
   only the scales in `PALETTE`, as Radix documents for trimming its CSS. A colour used in
   the app but missing here would render unstyled: tests/unit/test_frontend_build.py
   fails when app code names a Radix colour that is not in `PALETTE`.

Registered in rxconfig.py (`plugins=[LeanBundlePlugin()]`).
"""

from __future__ import annotations

from typing import Any

from reflex_base.constants.compiler import PageNames
from reflex_base.plugins.base import Plugin
from reflex_base.registry import RegistrationContext

UNBUNDLED_PREFIXES = ("@radix-ui/themes",)

# Every Radix colour the app names (color_scheme, accent_color, gray_color, ...).
PALETTE = ("gray", "slate", "indigo", "blue", "red", "green", "amber", "orange", "violet", "purple")
# Radix Themes' 31 scales, for the palette check.
RADIX_COLORS = frozenset(
    "tomato red ruby crimson pink plum purple violet iris indigo blue cyan teal jade green "  # noqa: SIM905
    "grass brown orange sky mint lime yellow amber gold bronze gray mauve slate sage olive "
    "sand".split()
)

GLOBAL_STYLESHEET = f"styles/{PageNames.STYLESHEET_ROOT}.css"
_FULL_RADIX_CSS = "@import url('@radix-ui/themes/styles.css');"


def trimmed_radix_css(stylesheet: str) -> str:
    """Swap Radix's all-in-one stylesheet for base tokens + PALETTE + components."""
    if _FULL_RADIX_CSS not in stylesheet:
        if "@radix-ui/themes/tokens/base.css" in stylesheet:
            return stylesheet  # already trimmed
        msg = (
            "LeanBundlePlugin cannot find Radix's stylesheet import in "
            f"{GLOBAL_STYLESHEET}; the Reflex template changed: update app/frontend_build.py."
        )
        raise RuntimeError(msg)
    parts = [
        "@radix-ui/themes/tokens/base.css",
        *(f"@radix-ui/themes/tokens/colors/{color}.css" for color in PALETTE),
        "@radix-ui/themes/components.css",
        "@radix-ui/themes/utilities.css",
    ]
    return stylesheet.replace(_FULL_RADIX_CSS, "".join(f"@import url('{p}');" for p in parts))


class LeanBundlePlugin(Plugin):
    """Drop Radix Themes from the dynamic-component libraries; ship only used colours."""

    def pre_compile(self, **context: Any) -> None:
        # Runs after Reflex registered the plugins' frontend dependencies and before the
        # app root (which imports the bundled libraries) is compiled.
        libraries = RegistrationContext.ensure_context().bundled_libraries
        libraries[:] = [lib for lib in libraries if not lib.startswith(UNBUNDLED_PREFIXES)]
        context["add_modify_task"](GLOBAL_STYLESHEET, trimmed_radix_css)
