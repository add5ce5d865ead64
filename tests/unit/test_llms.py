"""The LlamaIndex LLM objects behind the responders: function calling through them, the
offline answerer as an LLM, request details per model family, and the SDK shim."""

from __future__ import annotations

import typing
from collections.abc import Iterator
from pathlib import Path

import anthropic.types
import pytest
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.llms import LLM
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.tools import FunctionTool

from app.rag.answer import NOTICE_LEAK, compose_responder
from app.rag.answer_types import AnswerDone, AnswerRequest, Source, Usage
from app.rag.llm_extractive import ExtractiveLLM, ExtractiveLLMResponder
from app.rag.llms import (
    AnthropicResponder,
    GeminiResponder,
    OpenAIChat,
    OpenAIResponder,
)
from tests.support.fake_llm import FakeLLM, Script

KEY = "sk-test-0123456789abcdef0123456789"
SOURCES = [
    Source(1, "d1", "Shipping", "Orders ship within 3 to 5 business days.", 0.9),
    Source(2, "d2", "Returns", "Returns are accepted for 30 days.", 0.5),
]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLM]:
    with FakeLLM() as llm:
        yield llm


@pytest.fixture
def llm(server: FakeLLM) -> FakeLLM:
    server.reset()
    return server


def order_status(order_id: str, include_items: bool = False) -> str:
    """Look up the status of an order by its id."""
    return f"{order_id}: shipped"


async def test_tool_call_through_the_openai_llm_object(llm: FakeLLM) -> None:
    llm.script = Script(tool_calls=[{"name": "order_status", "arguments": {"order_id": "A-17"}}])
    responder = OpenAIResponder(KEY, llm.openai_url, model="gpt-4o-mini")
    model = responder.llm
    assert isinstance(model, FunctionCallingLLM) and model.metadata.is_function_calling_model
    tool = FunctionTool.from_defaults(fn=order_status)

    response = await model.achat_with_tools([tool], user_msg="Where is order A-17?")
    (call,) = model.get_tool_calls_from_response(response, error_on_no_tool_call=True)
    assert (call.tool_name, call.tool_kwargs) == ("order_status", {"order_id": "A-17"})
    assert tool.call(**call.tool_kwargs).content == "A-17: shipped"

    (request,) = llm.requests
    assert request.body["stream"] is False and request.body["model"] == "gpt-4o-mini"
    (offered,) = request.body["tools"]
    assert offered["type"] == "function" and offered["function"]["name"] == "order_status"
    assert offered["function"]["parameters"]["required"] == ["order_id"]


async def test_streamed_tool_call_is_assembled_from_deltas(llm: FakeLLM) -> None:
    args = {"order_id": "B-2", "include_items": True}
    llm.script = Script(tool_calls=[{"name": "order_status", "arguments": args}])
    model = OpenAIResponder(KEY, llm.openai_url, model="gpt-4o-mini").llm
    assert isinstance(model, FunctionCallingLLM)
    tool = FunctionTool.from_defaults(fn=order_status)
    last = None
    async for last in await model.astream_chat_with_tools([tool], user_msg="Status of B-2?"):  # noqa: B007
        pass
    assert last is not None
    (call,) = model.get_tool_calls_from_response(last, error_on_no_tool_call=True)
    assert (call.tool_name, call.tool_kwargs) == ("order_status", args)


async def test_the_llm_object_is_reused_within_a_loop(llm: FakeLLM) -> None:
    first = OpenAIResponder(KEY, llm.openai_url, model="gpt-4o-mini").llm
    again = OpenAIResponder(KEY, llm.openai_url, model="gpt-4o-mini").llm
    other_key = OpenAIResponder(KEY + "x", llm.openai_url, model="gpt-4o-mini").llm
    assert first is again and first is not other_key
    assert KEY not in repr(OpenAIResponder(KEY, llm.openai_url, model="gpt-4o-mini"))


async def test_reasoning_models_get_completion_budget_and_default_temperature(
    llm: FakeLLM,
) -> None:
    responder = OpenAIResponder(KEY, llm.openai_url, model="o4-mini")
    _ = [e async for e in responder.stream(AnswerRequest(question="Hi?", sources=SOURCES))]
    body = llm.requests[-1].body
    assert body["max_completion_tokens"] == 800 and "max_tokens" not in body
    assert body["temperature"] == 1.0  # the only value o-series and gpt-5 accept
    assert body["messages"][0]["role"] in ("system", "developer")


async def test_unknown_openai_model_names_still_work(llm: FakeLLM) -> None:
    model = OpenAIResponder(KEY, llm.openai_url, model="gpt-4.1-2031-01-01").llm
    assert isinstance(model, OpenAIChat) and model.metadata.is_chat_model
    responder = OpenAIResponder(KEY, llm.openai_url, model="gpt-4.1-2031-01-01")
    events = [e async for e in responder.stream(AnswerRequest(question="Hi?", sources=SOURCES))]
    assert isinstance(events[-1], AnswerDone) and events[-1].model == "gpt-4.1-2031-01-01"


def test_llm_objects_are_llamaindex_integrations() -> None:
    from llama_index.llms.anthropic import Anthropic
    from llama_index.llms.google_genai import GoogleGenAI
    from llama_index.llms.openai import OpenAI
    from llama_index.llms.openai_like import OpenAILike

    compat = OpenAIResponder("", "http://127.0.0.1:9/v1", "openai_compatible", "llama3.2")
    assert type(compat.llm) is OpenAILike
    assert isinstance(OpenAIResponder(KEY, model="gpt-4o-mini").llm, OpenAI)
    assert isinstance(AnthropicResponder(KEY, model="claude-haiku-4-5").llm, Anthropic)
    assert isinstance(GeminiResponder(KEY, model="gemini-2.5-flash").llm, GoogleGenAI)
    assert isinstance(ExtractiveLLMResponder().llm, LLM)


# ---- the offline answerer as an LLM --------------------------------------------------------


async def test_extractive_llm_answers_from_the_request_it_is_given() -> None:
    model = ExtractiveLLM()
    req = AnswerRequest(question="How long does shipping take?", sources=SOURCES)
    response = await model.achat(
        [ChatMessage(role=MessageRole.USER, content=req.question)], answer_request=req
    )
    assert "3 to 5 business days" in (response.message.content or "")
    assert response.additional_kwargs["answered"] is True
    assert isinstance(response.additional_kwargs["usage"], Usage)


def test_extractive_llm_without_sources_says_it_does_not_know() -> None:
    completion = ExtractiveLLM().complete("How long does shipping take?")
    assert completion.text == AnswerRequest(question="", sources=[]).unknown_answer
    assert completion.additional_kwargs["answered"] is False


async def test_extractive_responder_streams_with_usage_and_answered_flag() -> None:
    req = AnswerRequest(question="How long does shipping take?", sources=SOURCES)
    events = [e async for e in ExtractiveLLMResponder().stream(req)]
    done = events[-1]
    assert isinstance(done, AnswerDone) and done.answered
    assert (done.provider, done.model) == ("extractive", "extractive")
    assert done.usage.tokens_in > 0 and done.usage.tokens_out > 0
    assert "3 to 5 business days" in "".join(e for e in events[:-1] if isinstance(e, str))
    unknown = [e async for e in ExtractiveLLMResponder().stream(AnswerRequest("Hi?", []))]
    assert isinstance(unknown[-1], AnswerDone) and not unknown[-1].answered


# ---- the anthropic 2.x shim -----------------------------------------------------------------


def test_anthropic_message_param_shim_is_still_needed() -> None:
    """llama-index-llms-anthropic calls `MessageParam(...)`; anthropic 2.x made it a Union.
    When this fails, the SDK fixed it: delete the shim at the top of app/rag/llms.py."""
    assert typing.get_origin(anthropic.types.MessageParam) is typing.Union
    from llama_index.llms.anthropic.utils import messages_to_anthropic_messages

    messages, system = messages_to_anthropic_messages(
        [
            ChatMessage(role=MessageRole.SYSTEM, content="Be brief."),
            ChatMessage(role=MessageRole.USER, content="Hi"),
        ]
    )
    assert system == "Be brief."
    assert messages == [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]


# ---- the README's recipe for another LlamaIndex LLM ------------------------------------------


def _readme_recipe() -> dict[str, object]:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("**Plugging another LlamaIndex LLM**") :]
    start = section.index("```python\n") + len("```python\n")
    code = section[start : section.index("\n```", start)]
    namespace: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), namespace)
    return namespace


async def test_any_llamaindex_llm_plugs_in() -> None:
    responder_cls = _readme_recipe()["MockResponder"]
    responder = responder_cls("mock-1")  # type: ignore[operator]
    events = [e async for e in responder.stream(AnswerRequest(question="Hi?", sources=SOURCES))]
    done = events[-1]
    assert "".join(e for e in events[:-1] if isinstance(e, str)) == "text text text text text"
    assert isinstance(done, AnswerDone) and (done.provider, done.model) == ("mock", "mock-1")
    assert done.usage.tokens_out == 5
    # ... and the usual wrappers take it like any other responder.
    guarded = compose_responder(responder, ExtractiveLLMResponder(), secrets=["text text text"])
    events = [e async for e in guarded.stream(AnswerRequest(question="Hi?", sources=SOURCES))]
    assert isinstance(events[-1], AnswerDone) and events[-1].notice == NOTICE_LEAK
