"""Limits on what a tenant may spend: rate limits (and budgets)."""
