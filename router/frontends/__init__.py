"""Front ends: one adapter per API a client speaks (OpenAI chat, legacy completions,
Responses, embeddings; Anthropic Messages next). Each is a `Frontend` (base.py).

The chain (router/stages/chain.py) never asks which API a client spoke: a front end
turns the client's request into a `RequestContext` and renders what the chain answers
(whole answers, streamed chunks, errors) back in the client's shape.

To add a front end:
1. Subclass `Frontend` in a module of its own here (`messages.py`): set `api` (the wire
   format's name, e.g. "messages"), `endpoint` (what the stages classify, trim and key
   the cache on) and `paths`; override what differs from the OpenAI defaults (`parse`,
   `credential`, `error_body`, `stream_error`, `ended`, `render_hit`).
2. List an instance in `FRONTENDS` (router/frontends/registry.py): the app routes its
   `paths` to the chain through it.
3. If an upstream kind does not speak the new API natively, add a `Bridge` for the pair
   (router/upstreams/__init__.py says how); where the two speak the same API the body
   goes upstream with laneway's edits only.
"""
