"""Widgets page: the list (create, duplicate, enable, delete) and the editor with live preview.

Every handler resolves the identity from the session cookie (`_require`) and passes its
tenant to app/services/widgets.py; a widget id from another workspace is "not found".
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import reflex as rx

from app import routes
from app.db import NotFoundError, session_scope
from app.models import Widget
from app.services import model_catalog
from app.services import widgets as svc
from app.settings import get_settings
from app.state.auth import AuthState

DEFAULT_MODEL = "default"  # the select's value for "use the workspace default model"
PREVIEW_FRAME_ID = "widget-preview"
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
LEAVE_QUESTION = "This widget has unsaved changes. Leave without saving them?"


def editor_url(widget_id: str) -> str:
    return routes.WIDGETS + "/" + widget_id


def preview_src(widget_id: str) -> str:
    return f"/embed/{widget_id}?mode=inline&preview=1"


def preview_script(widget_id: str, settings: dict[str, Any]) -> str:
    """Post unsaved look settings to the preview iframe, debounced, to our own origin only.

    The last message is kept per widget and re-sent when the frame says it is ready, so edits
    made while the preview (re)loads are not lost.
    """
    message = json.dumps({"type": "chatconnect:preview", "settings": settings})
    return (
        "(()=>{"
        f"const send=(m)=>{{const f=document.getElementById('{PREVIEW_FRAME_ID}');"
        "if(f&&f.contentWindow)f.contentWindow.postMessage(m,window.location.origin);};"
        f"window.__ccPreviewLast={{id:{json.dumps(widget_id)},msg:{message}}};"
        "if(!window.__ccPreviewListening){window.__ccPreviewListening=true;"
        "window.addEventListener('message',(e)=>{const l=window.__ccPreviewLast;"
        f"const f=document.getElementById('{PREVIEW_FRAME_ID}');"
        "if(e.origin!==window.location.origin||!e.data||e.data.type!=='chatconnect:preview-ready'"
        "||!l||!f||e.source!==f.contentWindow||!f.src.includes('/embed/'+l.id+'?'))return;"
        "send(l.msg);});}"
        "clearTimeout(window.__ccPreviewTimer);"
        "window.__ccPreviewTimer=setTimeout(()=>send(window.__ccPreviewLast.msg),250);"
        "})()"
    )


# Asks before leaving the editor with unsaved changes: a tab close or reload
# (beforeunload) and any in-app link or navigation item (capture phase, so the router
# never sees a cancelled click). The flag is the editor's `data-dirty` attribute.
LEAVE_GUARD_SCRIPT = (
    "(()=>{if(window.__ccLeaveGuard)return;window.__ccLeaveGuard=true;"
    "const dirty=()=>document.getElementById('widget-editor')?.dataset.dirty==='true';"
    "window.addEventListener('beforeunload',(e)=>{if(dirty()){e.preventDefault();"
    "e.returnValue='';}});"
    "document.addEventListener('click',(e)=>{if(!dirty())return;"
    "const el=e.target.closest&&e.target.closest('a[href],[data-nav-href]');if(!el)return;"
    "const href=el.getAttribute('data-nav-href')||el.getAttribute('href');"
    "if(!href||href.startsWith('#')||el.target==='_blank')return;"
    "const url=new URL(href,window.location.href);"
    "if(url.origin===window.location.origin&&url.pathname===window.location.pathname)return;"
    f"if(!window.confirm({json.dumps(LEAVE_QUESTION)})){{e.preventDefault();"
    "e.stopImmediatePropagation();}},true);})()"
)

RELOAD_PREVIEW_SCRIPT = (
    f"(()=>{{const f=document.getElementById('{PREVIEW_FRAME_ID}');if(f)f.src=f.src;}})()"
)


@dataclasses.dataclass
class WidgetRow:
    id: str = ""
    name: str = ""
    enabled: bool = True
    domains: str = ""
    created: str = ""


def _row(widget: Widget) -> WidgetRow:
    return WidgetRow(
        id=widget.id,
        name=widget.name,
        enabled=widget.enabled,
        domains=", ".join(widget.allowed_domains),
        created=widget.created_at.strftime("%b %d, %Y"),
    )


class WidgetListState(AuthState):
    rows: list[WidgetRow] = []
    loaded: bool = False
    create_open: bool = False
    create_error: str = ""
    delete_id: str = ""
    delete_name: str = ""

    def _reload(self, tenant_id: str) -> None:
        with session_scope() as session:
            self.rows = [_row(w) for w in svc.list_widgets(session, tenant_id)]
        self.loaded = True

    @rx.event
    def load(self):
        self._reload(self._require().tenant_id)

    @rx.event
    def open_create(self):
        self._require()
        self.create_error = ""
        self.create_open = True

    @rx.event
    def set_create_open(self, value: bool):
        self._require()
        self.create_open = value

    @rx.event
    def create(self, form: dict[str, Any]):
        ident = self._require()
        self.create_error = ""
        try:
            with session_scope() as session:
                widget = svc.create_widget(
                    session,
                    ident.tenant_id,
                    str(form.get("name", ""))[:200],
                    actor=self._actor(ident),
                )
                widget_id = widget.id
        except svc.WidgetError as exc:
            self.create_error = str(exc)
            return None
        self.create_open = False
        return [rx.toast.success("Widget created."), rx.redirect(editor_url(widget_id))]

    @rx.event
    def duplicate(self, widget_id: str):
        ident = self._require()
        try:
            with session_scope() as session:
                copy = svc.duplicate_widget(
                    session, ident.tenant_id, widget_id, actor=self._actor(ident)
                )
                name = copy.name
        except NotFoundError:
            self._reload(ident.tenant_id)
            return rx.toast.error("That widget no longer exists.")
        except svc.WidgetError as exc:
            return rx.toast.error(str(exc))
        self._reload(ident.tenant_id)
        return rx.toast.success(f"Created “{name}”.")

    @rx.event
    def set_enabled(self, widget_id: str, enabled: bool):
        ident = self._require()
        try:
            with session_scope() as session:
                svc.update_widget(
                    session,
                    ident.tenant_id,
                    widget_id,
                    actor=self._actor(ident),
                    enabled=bool(enabled),
                )
        except NotFoundError:
            self._reload(ident.tenant_id)
            return rx.toast.error("That widget no longer exists.")
        self._reload(ident.tenant_id)
        return rx.toast.success("Widget enabled." if enabled else "Widget disabled.")

    @rx.event
    def ask_delete(self, widget_id: str, name: str):
        self._require()
        self.delete_id, self.delete_name = widget_id, name

    @rx.event
    def cancel_delete(self):
        self._require()
        self.delete_id = self.delete_name = ""

    @rx.event
    def confirm_delete(self):
        ident = self._require()
        widget_id, name = self.delete_id, self.delete_name
        self.delete_id = self.delete_name = ""
        try:
            with session_scope() as session:
                svc.delete_widget(session, ident.tenant_id, widget_id, actor=self._actor(ident))
        except NotFoundError:
            self._reload(ident.tenant_id)
            return rx.toast.error("That widget no longer exists.")
        self._reload(ident.tenant_id)
        return rx.toast.success(f"Deleted “{name}”.")


class WidgetEditorState(AuthState):
    # Not called `wid` (the route argument) so the two never shadow each other.
    editing_id: str = ""
    loaded: bool = False
    missing: bool = False
    errors: dict[str, str] = {}

    name: str = ""
    enabled: bool = True
    title: str = ""
    avatar_url: str = ""
    primary_color: str = svc.DEFAULT_APPEARANCE["primary_color"]
    saved_color: str = svc.DEFAULT_APPEARANCE["primary_color"]
    theme: str = "auto"
    position: str = "right"
    greeting: str = ""
    starters: str = ""
    placeholder: str = ""
    system_prompt: str = ""
    model: str = DEFAULT_MODEL
    model_options: list[str] = []
    temperature: float = 0.2
    citations: bool = True
    unknown_answer: str = ""
    domains: str = ""
    mode: str = "llm"  # llm | intent | hybrid (app.services.intent_router)

    script_snippet: str = ""
    iframe_snippet: str = ""
    has_provider: bool = True  # False: answers are quoted passages (offline)
    # The form as last loaded or saved (JSON): `dirty` compares the form with it.
    saved_form: str = ""

    def _form(self) -> str:
        return json.dumps(
            [
                self.name, self.enabled, self.title, self.avatar_url, self.primary_color,
                self.theme, self.position, self.greeting, self.starters, self.placeholder,
                self.system_prompt, self.model, self.temperature, self.citations,
                self.unknown_answer, self.domains, self.mode,
            ]
        )  # fmt: skip

    @rx.var
    def dirty(self) -> bool:
        return bool(self.saved_form) and self._form() != self.saved_form

    @rx.var
    def preview_url(self) -> str:
        return preview_src(self.editing_id) if self.editing_id else "about:blank"

    @rx.var
    def swatch(self) -> str:
        """The color picker's value: the typed color while it is valid, else the saved one."""
        return self.primary_color if _HEX.match(self.primary_color) else self.saved_color

    @rx.var
    def temperature_label(self) -> str:
        return f"{self.temperature:.1f}"

    def _fill(self, widget: Widget) -> None:
        look = {**svc.DEFAULT_APPEARANCE, **(widget.appearance or {})}
        self.editing_id = widget.id
        self.name = widget.name
        self.enabled = widget.enabled
        self.title = look["title"]
        self.avatar_url = look["avatar_url"]
        self.primary_color = self.saved_color = look["primary_color"]
        self.theme = look["theme"]
        self.position = look["position"]
        self.greeting = widget.greeting
        self.starters = "\n".join(widget.starter_questions)
        self.placeholder = widget.placeholder
        self.system_prompt = widget.system_prompt
        self.model = widget.model or DEFAULT_MODEL
        self.model_options = svc.model_choices(widget.model)
        self.temperature = widget.temperature
        self.citations = widget.citations_enabled
        self.unknown_answer = widget.unknown_answer
        self.domains = "\n".join(widget.allowed_domains)
        self.mode = widget.mode
        snippets = svc.embed_snippets(get_settings().public_url, widget.id)
        self.script_snippet = snippets["script"]
        self.iframe_snippet = snippets["iframe"]
        self.saved_form = self._form()

    @rx.event
    def load(self):
        ident = self._require()
        self.errors = {}
        self.loaded = self.missing = False
        yield
        # The id from the opened URL (/widgets/<id>); the tenant check is in the service.
        widget_id = str(self.router.url.path).rstrip("/").rsplit("/", 1)[-1]
        try:
            with session_scope() as session:
                self._fill(svc.get_widget(session, ident.tenant_id, widget_id))
                self.has_provider = bool(
                    model_catalog.workspace_providers(session, ident.tenant_id)
                )
        except NotFoundError:
            self.editing_id, self.saved_form = "", ""
            self.missing = True
        self.loaded = True
        yield rx.call_script(LEAVE_GUARD_SCRIPT)

    # ---- live preview --------------------------------------------------------------

    def _preview(self):
        return rx.call_script(
            preview_script(
                self.editing_id,
                {
                    "title": self.title or "Assistant",
                    "avatar_url": self.avatar_url if self.avatar_url.startswith("https://") else "",
                    "primary_color": self.primary_color
                    if _HEX.match(self.primary_color)
                    else self.saved_color,
                    "theme": self.theme,
                    "position": self.position,
                    "greeting": self.greeting,
                    "starter_questions": svc.split_lines(self.starters, svc.MAX_STARTERS),
                    "placeholder": self.placeholder,
                },
            )
        )

    def _clear(self, field: str) -> None:
        if field in self.errors:
            self.errors = {k: v for k, v in self.errors.items() if k != field}

    @rx.event
    def set_title(self, value: str):
        self._require()
        self.title = value[:60]
        return self._preview()

    @rx.event
    def set_avatar_url(self, value: str):
        self._require()
        self.avatar_url = value.strip()[:500]
        self._clear("avatar_url")
        if self.avatar_url and not self.avatar_url.startswith("https://"):
            self.errors = {**self.errors, "avatar_url": "The avatar must be an https:// image URL."}
        return self._preview()

    @rx.event
    def set_primary_color(self, value: str):
        self._require()
        self.primary_color = value.strip()[:7]
        self._clear("primary_color")
        if not _HEX.match(self.primary_color):
            self.errors = {**self.errors, "primary_color": "Use a hex color like #3e63dd."}
        return self._preview()

    @rx.event
    def set_theme(self, value: str):
        self._require()
        self.theme = value if value in svc.THEMES else "auto"
        return self._preview()

    @rx.event
    def set_position(self, value: str):
        self._require()
        self.position = value if value in svc.POSITIONS else "right"
        return self._preview()

    @rx.event
    def set_greeting(self, value: str):
        self._require()
        self.greeting = value[:1000]
        return self._preview()

    @rx.event
    def set_starters(self, value: str):
        self._require()
        self.starters = value[:2000]
        self._clear("starter_questions")
        if len(svc.split_lines(value, svc.MAX_STARTERS + 1)) > svc.MAX_STARTERS:
            self.errors = {
                **self.errors,
                "starter_questions": f"At most {svc.MAX_STARTERS} questions; "
                "extra lines are dropped.",
            }
        return self._preview()

    @rx.event
    def set_placeholder(self, value: str):
        self._require()
        self.placeholder = value[:200]
        return self._preview()

    # ---- behaviour fields (no preview) ---------------------------------------------

    @rx.event
    def set_name(self, value: str):
        self._require()
        self.name = value[:120]
        self._clear("name")
        if not value.strip():
            self.errors = {**self.errors, "name": "Give the widget a name."}

    @rx.event
    def set_enabled(self, value: bool):
        self._require()
        self.enabled = bool(value)

    @rx.event
    def set_system_prompt(self, value: str):
        self._require()
        self.system_prompt = value[:8000]

    @rx.event
    def set_model(self, value: str):
        self._require()
        self.model = (
            value if value == DEFAULT_MODEL or value in self.model_options else DEFAULT_MODEL
        )

    @rx.event
    def set_temperature(self, value: list[float]):
        self._require()
        if value:
            self.temperature = round(min(2.0, max(0.0, float(value[0]))), 1)

    @rx.event
    def set_temperature_text(self, value: str):
        """The range input's value (a string like "0.7")."""
        self._require()
        try:
            number = float(value)
        except (TypeError, ValueError):
            return
        self.temperature = round(min(2.0, max(0.0, number)), 1)

    @rx.event
    def set_citations(self, value: bool):
        self._require()
        self.citations = bool(value)

    @rx.event
    def set_unknown_answer(self, value: str):
        self._require()
        self.unknown_answer = value[:1000]

    @rx.event
    def set_mode(self, value: str):
        self._require()
        self.mode = value if value in svc.MODES else "llm"

    @rx.event
    def set_domains(self, value: str):
        self._require()
        self.domains = value[:5000]
        self._clear("allowed_domains")

    @rx.event
    def check_domains(self):
        """On blur: say which entry is wrong before the owner presses Save."""
        self._require()
        self._clear("allowed_domains")
        try:
            svc.check_domains(self.domains)
        except svc.WidgetError as exc:
            self.errors = {**self.errors, "allowed_domains": str(exc)}

    # ---- save ------------------------------------------------------------------------

    @rx.event
    def save(self):
        ident = self._require()
        self.errors = {}
        try:
            with session_scope() as session:
                widget = svc.update_widget(
                    session,
                    ident.tenant_id,
                    self.editing_id,
                    actor=self._actor(ident),
                    name=self.name,
                    enabled=self.enabled,
                    appearance={
                        "title": self.title,
                        "avatar_url": self.avatar_url,
                        "primary_color": self.primary_color,
                        "theme": self.theme,
                        "position": self.position,
                    },
                    greeting=self.greeting,
                    starter_questions=svc.split_lines(self.starters, svc.MAX_STARTERS),
                    placeholder=self.placeholder,
                    system_prompt=self.system_prompt,
                    model=None if self.model == DEFAULT_MODEL else self.model,
                    temperature=self.temperature,
                    citations_enabled=self.citations,
                    unknown_answer=self.unknown_answer,
                    mode=self.mode,
                    allowed_domains=svc.check_domains(self.domains),
                )
                session.flush()
                self._fill(widget)
        except svc.WidgetError as exc:
            self.errors = {exc.field or "form": str(exc)}
            return rx.toast.error("Please fix the highlighted field.")
        except NotFoundError:
            self.missing = True
            return rx.toast.error("That widget no longer exists.")
        return [rx.toast.success("Widget saved."), rx.call_script(RELOAD_PREVIEW_SCRIPT)]

    @rx.event
    def copy_snippet(self, which: str):
        self._require()
        text = self.script_snippet if which == "script" else self.iframe_snippet
        return [rx.set_clipboard(text), rx.toast.success("Snippet copied to the clipboard.")]
