"""Knowledge > Q&A pairs: the list, the add/edit dialog and the enable switch. A mixin of
KnowledgeState (app/state/knowledge.py); deleting a pair goes through its confirmation
dialog.
"""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from app.db import NotFoundError, session_scope
from app.services import qa


@dataclass
class QARow:
    id: str = ""
    question: str = ""
    answer: str = ""
    enabled: bool = True


class KnowledgeQAMixin(rx.State, mixin=True):
    pairs: list[QARow] = []
    qa_open: bool = False
    qa_edit_id: str = ""
    qa_question: str = ""
    qa_answer: str = ""
    qa_enabled: bool = True
    qa_error: str = ""

    def _reload_pairs(self, session, tenant_id: str) -> None:  # type: ignore[no-untyped-def]
        self.pairs = [
            QARow(id=p.id, question=p.question, answer=p.answer, enabled=p.enabled)
            for p in qa.list_pairs(session, tenant_id)
        ]

    @rx.event
    def new_pair(self) -> None:
        self._require()  # type: ignore[attr-defined]
        self.qa_edit_id, self.qa_question, self.qa_answer = "", "", ""
        self.qa_enabled, self.qa_error, self.qa_open = True, "", True

    @rx.event
    def edit_pair(self, pair_id: str) -> None:
        self._require()  # type: ignore[attr-defined]
        pair = next((p for p in self.pairs if p.id == pair_id), None)
        if pair is None:
            return
        self.qa_edit_id, self.qa_question, self.qa_answer = pair.id, pair.question, pair.answer
        self.qa_enabled, self.qa_error, self.qa_open = pair.enabled, "", True

    @rx.event
    def set_qa_open(self, value: bool) -> None:
        self._require()  # type: ignore[attr-defined]
        self.qa_open = value

    @rx.event
    def set_qa_enabled(self, value: bool) -> None:
        self._require()  # type: ignore[attr-defined]
        self.qa_enabled = value

    @rx.event
    def save_pair(self, form: dict):
        ident = self._require()  # type: ignore[attr-defined]
        question, answer = str(form.get("question", "")), str(form.get("answer", ""))
        try:
            with session_scope() as session:
                if self.qa_edit_id:
                    qa.update_pair(
                        session,
                        ident.tenant_id,
                        self.qa_edit_id,
                        question=question,
                        answer=answer,
                        enabled=self.qa_enabled,
                    )
                else:
                    qa.create_pair(
                        session, ident.tenant_id, question, answer, enabled=self.qa_enabled
                    )
                self._reload_pairs(session, ident.tenant_id)
        except qa.QAError as exc:
            self.qa_error = str(exc)
            return None
        except NotFoundError:
            self.qa_error = "This pair no longer exists."
            return None
        edited = bool(self.qa_edit_id)
        self.qa_open = False
        return rx.toast.success("Q&A pair saved." if edited else "Q&A pair added.")

    @rx.event
    def toggle_pair(self, pair_id: str, enabled: bool):
        ident = self._require()  # type: ignore[attr-defined]
        try:
            with session_scope() as session:
                pair = qa.get_pair(session, ident.tenant_id, pair_id)
                qa.update_pair(
                    session,
                    ident.tenant_id,
                    pair_id,
                    question=pair.question,
                    answer=pair.answer,
                    enabled=bool(enabled),
                )
                self._reload_pairs(session, ident.tenant_id)
        except NotFoundError:
            return rx.toast.error("That pair no longer exists.")
        return rx.toast.success("Pair enabled." if enabled else "Pair disabled.")
