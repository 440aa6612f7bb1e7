"""Transitional re-export of :mod:`tests.support.sync`.

Kept only for the test modules still importing ``helpers_sync`` through
``sys.path`` (the API server, Kubernetes source, asyncio, informer, compaction,
reflector and convergence tests) until the lead moves them to
``tests.support``; then delete this file. New code imports ``tests.support.sync``.
"""

from tests.support.sync import new_threads, thread_leak_fixture, wait_for

__all__ = ["new_threads", "thread_leak_fixture", "wait_for"]
