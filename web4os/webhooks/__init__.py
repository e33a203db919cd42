"""Webhooks: an account's endpoints, signed deliveries of its events, retried with backoff."""
