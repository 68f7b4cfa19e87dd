"""The upstream side: one adapter per API a model server speaks, over laneway's HTTP
clients (http1.py for plain HTTP, aiohttp for TLS).

An upstream kind (`UpstreamKind`, kinds.py) calls one model and returns a `Reply` once
the answer has started, so the chain can still fall back before the client sees a byte:
`openai.py` (any OpenAI-compatible server), `litellm.py` (other providers, imported only
when configured). A kind names the client APIs it speaks natively (`apis`); for those the
body goes as the client sent it, with laneway's edits only (trim, model name).

To add an upstream kind:
1. Write the adapter in a module of its own here (`anthropic.py`): a class with `apis` and
   `open(model, endpoint, body, stream, timeouts, started) -> Reply`, raising
   `UpstreamFailure` before the first byte and `StreamBroken` after it.
2. Name it in `kinds.kind_of` (which models it serves, e.g. `provider: anthropic`) and build
   it in `kinds.build_kinds` (once per runtime, shared by every request).
3. For each client API it does not speak, add a `Bridge` to `BRIDGES` in kinds.py: it
   rewrites the request into the upstream's API and the reply (whole, or chunk by chunk)
   back into the client's. Any front end then reaches any kind through the same chain.
"""
