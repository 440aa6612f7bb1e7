"""Shared test support: front-end runners and helpers (import as ``tests.support``)."""
