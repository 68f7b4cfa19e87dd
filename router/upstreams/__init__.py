"""The upstream side: one adapter per upstream API over the HTTP clients, SSE."""
