"""Webhooks: the status outbox's delivery (`delivery`), and one signed POST (`sender`)."""
