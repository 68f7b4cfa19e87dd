"""A raw `prompt` posted to the chat path is the completion it is, answered in the chat shape
(issue 19): the OpenAI SDK parses it as a chat answer, streamed or not."""

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from procs import Proc

FIM = "<|fim_prefix|>def area(r):\n    return <|fim_suffix|>\n\nprint(area(2))\n<|fim_middle|>"


@pytest.fixture
def client(laneway: Proc) -> openai.OpenAI:
    return openai.OpenAI(base_url=laneway.url + "/v1", api_key="x", max_retries=0)


def test_prompt_on_chat_is_a_completion_in_the_chat_shape(client: openai.OpenAI):
    raw = client.post("/chat/completions", cast_to=ChatCompletion, body={
        "model": "auto", "prompt": FIM, "max_tokens": 16, "temperature": 0.7})
    assert raw.object == "chat.completion"
    assert raw.choices[0].message.role == "assistant" and raw.choices[0].message.content
    assert raw.choices[0].finish_reason in {"stop", "length"}
    headed = httpx.post(str(client.base_url) + "chat/completions", json={
        "model": "auto", "prompt": "def fib(n):\n    ", "suffix": "\n", "max_tokens": 8})
    assert headed.headers["x-laneway-lane"] == "completion"
    assert headed.json()["choices"][0]["message"]["content"]


def test_streamed_prompt_on_chat_arrives_as_chat_chunks(client: openai.OpenAI):
    stream = client.post(
        "/chat/completions", cast_to=ChatCompletionChunk, stream=True,
        stream_cls=openai.Stream[ChatCompletionChunk],
        body={"model": "auto", "prompt": FIM, "max_tokens": 16, "temperature": 0.8,
              "stream": True},
    )
    chunks = list(stream)
    assert chunks and all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text


def test_chat_without_messages_or_prompt_is_still_a_400(client: openai.OpenAI):
    with pytest.raises(openai.BadRequestError) as refused:
        client.post("/chat/completions", cast_to=ChatCompletion, body={"model": "auto"})
    assert refused.value.body["param"] == "messages"  # type: ignore[index]


def test_a_cached_replay_is_reshaped_too(laneway: Proc):
    # Pinned: `auto` sends one completion in twenty to another candidate (the explore share),
    # and that model's cache would not hold the first answer.
    body = {"model": "qwen3-coder-1.5b", "prompt": FIM.replace("area", "volume"), "max_tokens": 12,
            "temperature": 0, "stream": True}
    answers = [httpx.post(laneway.url + "/v1/chat/completions", json=body) for _ in range(2)]
    assert [a.headers["x-laneway-cache"] for a in answers] == ["miss", "l1"]
    for a in answers:
        events = [line[6:] for line in a.text.splitlines() if line.startswith("data: ")]
        assert events[-1] == "[DONE]"
        chunks = [ChatCompletionChunk.model_validate_json(e) for e in events[:-1]]
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
