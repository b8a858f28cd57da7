"""Status webhooks, delivered from the outbox the store writes with every status change."""

from unmixed.webhooks.delivery import WebhookDelivery

__all__ = ["WebhookDelivery"]
