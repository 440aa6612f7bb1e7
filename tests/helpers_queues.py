"""Transitional re-export of :mod:`tests.support.queues` and the ``obj`` builder.

Kept for any module still importing ``helpers_queues`` through ``sys.path``
until the lead moves them to ``tests.support``; then delete this file.
"""

from tests.support.objects import obj
from tests.support.queues import waiting_poppers

__all__ = ["obj", "waiting_poppers"]
