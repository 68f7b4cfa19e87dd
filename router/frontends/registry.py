"""Every front end laneway serves; the app routes each one's paths to the chain."""

from __future__ import annotations

from router.frontends.base import Frontend
from router.frontends.openai import CHAT, COMPLETIONS, EMBEDDINGS, RESPONSES

FRONTENDS: tuple[Frontend, ...] = (CHAT, COMPLETIONS, RESPONSES, EMBEDDINGS)
