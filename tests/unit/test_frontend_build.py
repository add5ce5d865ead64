"""The build plugin that keeps pages light: the Radix palette covers every colour the app
names, and the stylesheet / bundled-library edits do what they say."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from reflex_base.registry import RegistrationContext

from app.frontend_build import (
    GLOBAL_STYLESHEET,
    PALETTE,
    RADIX_COLORS,
    LeanBundlePlugin,
    trimmed_radix_css,
)

APP = Path(__file__).resolve().parents[2] / "app"
_QUOTED = re.compile(r"""["']([a-z]+)["']""")


def test_every_radix_colour_named_in_the_app_is_in_the_palette() -> None:
    used: dict[str, str] = {}
    for path in APP.rglob("*.py"):
        if path.name == "frontend_build.py":
            continue  # the list of all Radix colours itself
        for word in _QUOTED.findall(path.read_text(encoding="utf-8")):
            if word in RADIX_COLORS:
                used.setdefault(word, str(path.relative_to(APP.parent)))
    missing = {color: where for color, where in used.items() if color not in PALETTE}
    assert not missing, (
        "Radix colours used but not shipped (add them to PALETTE in app/frontend_build.py): "
        f"{missing}"
    )
    assert {"gray", "slate", "indigo"} <= set(PALETTE)
    assert set(PALETTE) <= RADIX_COLORS


def test_stylesheet_imports_base_tokens_palette_and_components() -> None:
    original = (
        "@layer __reflex_base;\n@import url('./__reflex_style_reset.css');\n"
        "@import url('@radix-ui/themes/styles.css');"
    )
    trimmed = trimmed_radix_css(original)
    imports = re.findall(r"@import url\('([^']+)'\);", trimmed)
    assert imports == [
        "./__reflex_style_reset.css",
        "@radix-ui/themes/tokens/base.css",
        *(f"@radix-ui/themes/tokens/colors/{c}.css" for c in PALETTE),
        "@radix-ui/themes/components.css",
        "@radix-ui/themes/utilities.css",
    ]
    assert trimmed_radix_css(trimmed) == trimmed  # idempotent
    with pytest.raises(RuntimeError, match="Reflex template changed"):
        trimmed_radix_css("@import url('./other.css');")


def test_plugin_unbundles_radix_themes_and_registers_the_stylesheet_edit() -> None:
    libraries = RegistrationContext.ensure_context().bundled_libraries
    saved = list(libraries)
    tasks: list[tuple[str, object]] = []
    try:
        libraries[:] = ["react", "$/utils/state", "@radix-ui/themes@3.3.0", "@radix-ui/themes"]
        LeanBundlePlugin().pre_compile(add_modify_task=lambda *args: tasks.append(args))
        assert libraries == ["react", "$/utils/state"]
    finally:
        libraries[:] = saved
    assert tasks == [(GLOBAL_STYLESHEET, trimmed_radix_css)]
