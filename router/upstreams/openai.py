"""Calling a model: OpenAI-compatible servers over plain HTTP through laneway's lean
keep-alive client (router/upstreams/http1.py), over HTTPS through one pooled aiohttp session.

`open()` returns once the answer has *started* (headers, and the first chunk of a stream),
so the pipeline can still fall back to another model before a byte reaches the client.
Only laneway retries: aiohttp never retries a POST by itself, and neither does this module.

Timeouts (per lane, from the policy): `connect_s` for the connection; a stream's first chunk
within `ttft_s`; each later chunk within `idle_s`; the whole answer within `total_s`. A
non-streamed answer is silent until it is whole, so only `total_s` applies to it. Every
failure, timeout or cancellation closes the upstream connection, so generation stops there.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from policies.catalog import ModelSpec
from policies.lanes import Endpoint
from router.upstreams import http1

PATHS = {
    Endpoint.CHAT: "/chat/completions",
    Endpoint.COMPLETIONS: "/completions",
    Endpoint.RESPONSES: "/responses",
    Endpoint.EMBEDDINGS: "/embeddings",
}


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect_s: float = 5.0
    ttft_s: float = 60.0  # until the first byte of the answer
    idle_s: float = 60.0  # between two chunks of a stream
    total_s: float = 600.0


class UpstreamFailure(Exception):
    """A model did not start an answer. `retryable` says whether the next candidate may try."""

    def __init__(
        self,
        model: str,
        reason: str,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = True,
        retry_after: str | None = None,
        body: bytes | None = None,
    ) -> None:
        super().__init__(message)
        self.model = model
        self.reason = reason  # connect | timeout | status_5xx | status_429 | status_4xx | ...
        self.message = message
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after
        self.body = body


class StreamBroken(Exception):
    """A stream failed after it had started: too late to fall back."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(slots=True)
class Reply:
    status: int
    content_type: str
    first: bytes  # a stream's first chunk, or the whole body
    rest: AsyncIterator[bytes] | None  # a stream's remaining chunks; None when not streamed
    ttft_s: float
    close: Any  # callable releasing the connection; safe to call twice


@functools.lru_cache(maxsize=64)
def _client_timeout(connect_s: float, total_s: float | None = None) -> aiohttp.ClientTimeout:
    """One (immutable) ClientTimeout per pair of limits: the policies hold a handful."""
    return aiohttp.ClientTimeout(total=total_s, connect=connect_s)


def _scrub(text: str, model: ModelSpec) -> str:
    key = model.api_key.reveal() if model.api_key else ""
    return text.replace(key, "***") if key else text


# How a target is called: aiohttp's headers, or the lean client's target.
_How = CIMultiDictProxy[str] | http1.Target


class OpenAIUpstream:
    """Any OpenAI-compatible server: vLLM, SGLang, Ollama, OpenAI itself, the fleet."""

    apis = frozenset(e.value for e in PATHS)  # every OpenAI front end's body, as it is

    def __init__(self, session: aiohttp.ClientSession, pool: http1.Pool | None = None) -> None:
        self._session = session
        self.pool = pool  # plain-HTTP upstreams go through it; None: everything via aiohttp
        # Per (model, endpoint): the parsed URL and the finished headers, built once (aiohttp
        # parses a str URL and converts a plain dict of headers on every call), or the lean
        # client's target. One instance per Runtime, so a reload starts afresh; the spec is
        # kept to check it is the same.
        self._targets: dict[tuple[str, Endpoint], tuple[ModelSpec, URL, _How]] = {}

    def _target(self, model: ModelSpec, endpoint: Endpoint) -> tuple[URL, _How]:
        """(URL, aiohttp headers), or (URL, http1.Target) for the lean client."""
        t = self._targets.get((model.name, endpoint))
        if t is None or t[0] is not model:
            headers = {"content-type": "application/json"}
            if model.api_key:
                headers["authorization"] = "Bearer " + model.api_key.reveal()
            url = URL(model.api_base + PATHS[endpoint])
            how: _How = CIMultiDictProxy(CIMultiDict(headers))
            if self.pool is not None and url.scheme == "http" and url.host:
                how = http1.Target(url.host, url.port or 80, url.raw_path_qs, headers)
            t = self._targets[(model.name, endpoint)] = (model, url, how)
        return t[1], t[2]

    async def _post(
        self, url: URL, how: _How, body: dict[str, Any], whole: bool, connect_s: float,
        total_s: float | None,
    ) -> Any:
        """An aiohttp ClientResponse, or the lean client's Answer (the same few members)."""
        if isinstance(how, http1.Target):
            assert self.pool is not None
            return await self.pool.post(
                how, orjson.dumps(body), whole=whole, connect_s=connect_s, timeout_s=total_s,
            )
        return await self._session.post(
            url, data=orjson.dumps(body), headers=how, timeout=_client_timeout(connect_s, total_s),
        )

    async def open(
        self,
        model: ModelSpec,
        endpoint: Endpoint,
        body: dict[str, Any],
        stream: bool,
        timeouts: Timeouts,
        started: float,
    ) -> Reply:
        url, how = self._target(model, endpoint)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeouts.total_s
        # A non-streamed answer is silent until it is whole: it has no first token to time
        # and no idle gaps, so only the total limit applies to it.
        first_within = min(timeouts.ttft_s, timeouts.total_s) if stream else timeouts.total_s
        resp: Any = None  # aiohttp.ClientResponse | http1.Answer
        try:
            try:
                if stream:
                    async with asyncio.timeout(first_within):
                        resp = await self._post(
                            url, how, body, False, timeouts.connect_s, None,
                        )
                        if resp.status >= 300:  # the lean client does not follow redirects
                            raise _status_failure(model, resp, await _drained(resp))
                        first = await resp.content.readany()
                else:
                    # The client's own total limit covers sending and reading the whole
                    # answer: one timer per call instead of its and asyncio's both.
                    resp = await self._post(
                        url, how, body, True, timeouts.connect_s, first_within,
                    )
                    if resp.status >= 300:  # the lean client does not follow redirects
                        raise _status_failure(model, resp, await _drained(resp))
                    first = await resp.read()
            except BaseException:
                # A timeout, an error, the client leaving (CancelledError): drop the
                # connection, which is how the upstream learns to stop generating.
                if resp is not None:
                    resp.close()
                raise
        except UpstreamFailure:
            raise
        except TimeoutError:
            raise UpstreamFailure(
                model.name, "timeout", f"Model '{model.name}' did not answer in time."
            ) from None
        except (aiohttp.ClientConnectorError, http1.ConnectFailed):
            raise UpstreamFailure(
                model.name, "connect", f"Could not connect to model '{model.name}'."
            ) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise UpstreamFailure(
                model.name, "transport", f"Model '{model.name}' failed: {type(exc).__name__}."
            ) from None
        assert resp is not None
        ttft = time.perf_counter() - started
        content_type = resp.headers.get("content-type", "application/json")
        if not stream:
            resp.release()
            return Reply(resp.status, content_type, first, None, ttft, resp.release)
        rest = _rest(resp, model, timeouts.idle_s, deadline)
        return Reply(resp.status, content_type, first, rest, ttft, resp.close)


async def _drained(resp: Any) -> bytes:
    """An error answer's body; the connection goes back to the pool."""
    data = await resp.read()
    resp.release()
    return data


async def _rest(
    resp: Any, model: ModelSpec, idle_s: float, deadline: float
) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    try:
        while True:
            left = deadline - loop.time()
            if left <= 0:
                raise StreamBroken("total_timeout", f"Model '{model.name}' ran out of time.")
            try:
                # One timer per chunk bounds both the silence and the whole answer.
                async with asyncio.timeout(min(idle_s, left)):
                    chunk = await resp.content.readany()
            except TimeoutError:
                if idle_s < left:
                    raise StreamBroken(
                        "idle_timeout", f"Model '{model.name}' stopped sending."
                    ) from None
                raise StreamBroken(
                    "total_timeout", f"Model '{model.name}' ran out of time."
                ) from None
            if not chunk:
                return
            yield chunk
    except (aiohttp.ClientError, OSError) as exc:
        raise StreamBroken(
            "stream_cut", f"Model '{model.name}' stream failed: {type(exc).__name__}."
        ) from None
    finally:
        # Closing (not releasing) an unfinished stream drops the connection, which is how
        # the upstream learns the client went away and stops generating.
        resp.close()


def _status_failure(model: ModelSpec, resp: Any, data: bytes) -> UpstreamFailure:
    status = resp.status
    detail = ""
    try:
        err = orjson.loads(data).get("error")
        if isinstance(err, dict):
            detail = str(err.get("message") or "")
        elif isinstance(err, str):
            detail = err
    except (orjson.JSONDecodeError, AttributeError):
        pass
    detail = _scrub(detail[:500], model)
    if status < 400:
        # Only the lean client (plain HTTP) returns one: it does not follow redirects, which
        # would re-send the body (and the key) wherever the answer points.
        where = _scrub(str(resp.headers.get("location") or "")[:200], model)
        return UpstreamFailure(
            model.name, "redirect",
            f"Model '{model.name}' answered HTTP {status} (a redirect"
            + (f" to {where}" if where else "") + "): set its api_base to where it points.",
            status=status,
        )
    if status in (401, 403):
        # Never pass on what the upstream said about credentials: it may quote them.
        return UpstreamFailure(
            model.name, "auth", f"Model '{model.name}' refused laneway's credentials.",
            status=status, retryable=True,
        )
    if status == 429:
        return UpstreamFailure(
            model.name, "status_429", f"Model '{model.name}' is rate limited.",
            status=status, retry_after=resp.headers.get("retry-after"),
        )
    if status >= 500:
        return UpstreamFailure(
            model.name, "status_5xx", f"Model '{model.name}' failed with HTTP {status}.",
            status=status,
        )
    # A 4xx is about the request itself: another model would refuse it too.
    return UpstreamFailure(
        model.name, "status_4xx", detail or f"Model '{model.name}' rejected the request.",
        status=status, retryable=False,
        body=_scrub(data.decode("utf-8", "replace"), model).encode(),
    )


def new_session() -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, ttl_dns_cache=300)
    return aiohttp.ClientSession(
        connector=connector,
        json_serialize=lambda o: orjson.dumps(o).decode(),
        auto_decompress=True,
        skip_auto_headers=("User-Agent",),
    )
