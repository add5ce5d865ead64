"""The offline extractive answerer (`app.rag.extractive`) as a LlamaIndex LLM, behind the
same responder interface as the providers' models (`app.rag.llms.LLMResponder`): the
answer needs no key and no network, and streams, reports usage and fails like the others.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.llms import LLM, CustomLLM

from app.rag.answer import Timeouts
from app.rag.answer_types import AnswerDone, AnswerRequest, Usage
from app.rag.extractive import SENTENCE_PAUSE_S
from app.rag.extractive import ExtractiveResponder as _ExtractiveAnswerer
from app.rag.llms import (
    CONTEXT_WINDOW,
    MAX_OUTPUT_TOKENS,
    LLMResponder,
    LLMRun,
    cached_llm,
)


class ExtractiveLLM(CustomLLM):
    """The offline extractive answerer (`app.rag.extractive`) as a LlamaIndex LLM.

    It quotes the sources, so it needs them: pass the structured request as the
    `answer_request` keyword. Without one it has no sources and gives the unknown-answer
    sentence. The last streamed chunk carries `usage` and `answered` in `additional_kwargs`.
    `sentence_pause_s` paces the stream (see `ExtractiveResponder`); 0 = no pacing.
    """

    sentence_pause_s: float = SENTENCE_PAUSE_S

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(
            context_window=CONTEXT_WINDOW,
            num_output=MAX_OUTPUT_TOKENS,
            is_chat_model=True,
            model_name="extractive",
        )

    @classmethod
    def class_name(cls) -> str:
        return "chatconnect_extractive_llm"

    @staticmethod
    def _request(messages: Sequence[ChatMessage], kwargs: dict[str, Any]) -> AnswerRequest:
        req = kwargs.get("answer_request")
        if isinstance(req, AnswerRequest):
            return req
        question = next(
            (m.content or "" for m in reversed(messages) if m.role == MessageRole.USER), ""
        )
        return AnswerRequest(question=question, sources=[])

    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        req = self._request(messages, kwargs)

        async def gen() -> ChatResponseAsyncGen:
            text = ""
            async for event in _ExtractiveAnswerer(self.sentence_pause_s).stream(req):
                if isinstance(event, AnswerDone):
                    yield ChatResponse(
                        message=ChatMessage(role=MessageRole.ASSISTANT, content=text),
                        delta="",
                        additional_kwargs={
                            "usage": event.usage,
                            "answered": event.answered,
                            "model": event.model,
                            "confidence": event.confidence,
                        },
                    )
                    return
                text += event
                yield ChatResponse(
                    message=ChatMessage(role=MessageRole.ASSISTANT, content=text), delta=event
                )

        return gen()

    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        last: ChatResponse | None = None
        async for last in await self.astream_chat(messages, **kwargs):  # noqa: B007
            pass
        assert last is not None
        return last

    def _sync(self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]) -> ChatResponse:
        # The answerer is async; run it on a loop of its own so sync callers work anywhere.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, self.achat(messages, **kwargs)).result()

    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return self._sync(messages, kwargs)

    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        response = self._sync([ChatMessage(role=MessageRole.USER, content=prompt)], kwargs)
        return CompletionResponse(
            text=response.message.content or "", additional_kwargs=response.additional_kwargs
        )

    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        response = self.complete(prompt, formatted, **kwargs)
        yield CompletionResponse(
            text=response.text, delta=response.text, additional_kwargs=response.additional_kwargs
        )

    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        response = self.chat(messages, **kwargs)
        yield ChatResponse(
            message=response.message,
            delta=response.message.content,
            additional_kwargs=response.additional_kwargs,
        )


class ExtractiveLLMResponder(LLMResponder):
    """The offline answerer through `ExtractiveLLM`: same interface, no provider, no key."""

    provider = "extractive"

    def __init__(self, sentence_pause_s: float = SENTENCE_PAUSE_S) -> None:
        self.sentence_pause_s = sentence_pause_s
        super().__init__("extractive", timeouts=Timeouts(first_token=60.0, total=120.0))

    def _make_llm(self) -> LLM:
        return ExtractiveLLM(sentence_pause_s=self.sentence_pause_s)

    @property
    def llm(self) -> LLM:
        return cached_llm(("extractive", repr(self.sentence_pause_s)), self._make_llm)

    async def _deltas(self, req: AnswerRequest, run: LLMRun) -> AsyncIterator[str]:
        # No prompt: it reads the structured request (and never sees the system prompt).
        stream = await self.llm.astream_chat(
            [ChatMessage(role=MessageRole.USER, content=req.question)], answer_request=req
        )
        async with aclosing(stream) as chunks:  # type: ignore[type-var]
            async for chunk in chunks:
                self._read(chunk, run)
                if chunk.delta:
                    yield chunk.delta

    def _read(self, chunk: ChatResponse, run: LLMRun) -> None:
        extra = chunk.additional_kwargs
        if isinstance(extra.get("usage"), Usage):
            run.usage = extra["usage"]
            run.answered = bool(extra.get("answered", True))
            run.model = str(extra.get("model") or run.model)
            confidence = extra.get("confidence")
            run.confidence = float(confidence) if confidence is not None else None
