"""Black-box checks of the names and signatures API.md pins in "Modern protocol",
"Leader election" and "asyncio and work queues", spelled as a new user would read them:
keyword names, positional order and defaults (via ``inspect.signature``), and the
errors named. Behaviour of each feature is covered by its own test modules; this file
only guards the contract's wording.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from kubecache import workqueue as wq
from kubecache.aio import AsyncSharedIndexInformer
from kubecache.aio import workqueue as awq
from kubecache.informer import SharedIndexInformer
from kubecache.listwatch import ListOptions
from kubecache.testing import FakeControllerSource


def params(func: Any) -> dict[str, inspect.Parameter]:
    return dict(inspect.signature(func).parameters)


def test_list_options_gains_streaming_fields_as_keywords_after_the_old_ones() -> None:
    names = list(params(ListOptions))
    assert names[:9] == ["resource_version", "timeout_seconds", "limit", "continue_",
                         "allow_watch_bookmarks", "label_selector", "field_selector",
                         "send_initial_events", "resource_version_match"]
    opts = ListOptions()
    assert opts.send_initial_events is None and opts.resource_version_match is None


@pytest.mark.parametrize("informer_cls", [SharedIndexInformer, AsyncSharedIndexInformer])
def test_remove_event_handler_takes_the_registration_by_its_pinned_name(
        informer_cls: Any) -> None:
    assert list(params(informer_cls.remove_event_handler)) == ["self", "registration"]
    informer = informer_cls(FakeControllerSource(), "Pod")

    class Handler:
        def on_add(self, obj: Any, is_in_initial_list: bool = False) -> None: ...
        def on_update(self, old: Any, new: Any) -> None: ...
        def on_delete(self, obj: Any) -> None: ...

    registration = informer.add_event_handler(Handler())
    assert informer.remove_event_handler(registration=registration) is True
    assert informer.remove_event_handler(registration=registration) is False


@pytest.mark.parametrize("informer_cls", [SharedIndexInformer, AsyncSharedIndexInformer])
def test_add_event_handler_and_wait_for_resource_version_signatures(informer_cls: Any) -> None:
    add = params(informer_cls.add_event_handler)
    assert list(add)[:3] == ["self", "handler", "resync_period"]
    assert add["resync_period"].default is None
    assert add["inline"].kind is inspect.Parameter.KEYWORD_ONLY and add["inline"].default is False
    wait = params(informer_cls.wait_for_resource_version)
    assert list(wait) == ["self", "rv", "timeout"] and wait["timeout"].default is None
    assert inspect.iscoroutinefunction(AsyncSharedIndexInformer.wait_for_resource_version)


@pytest.mark.parametrize("informer_cls", [SharedIndexInformer, AsyncSharedIndexInformer])
def test_use_watch_list_is_accepted_as_a_keyword(informer_cls: Any) -> None:
    for value in (None, True, False):
        informer_cls(FakeControllerSource(), "Pod", use_watch_list=value)
    assert FakeControllerSource().supports_watch_list is True


@pytest.mark.parametrize("elector_module", ["kubecache.leaderelection",
                                            "kubecache.aio.leaderelection"])
def test_leader_elector_keyword_defaults_and_timing_rule(elector_module: str) -> None:
    import importlib
    cls = importlib.import_module(elector_module).LeaderElector
    p = params(cls)
    assert next(iter(p)) == "lock"
    expected = {"lease_duration": 15.0, "renew_deadline": 10.0, "retry_period": 2.0,
                "on_stopped_leading": None, "on_new_leader": None, "release_on_cancel": False}
    for name, default in expected.items():
        assert p[name].kind is inspect.Parameter.KEYWORD_ONLY
        assert p[name].default == default, name
    assert p["on_started_leading"].default is inspect.Parameter.empty
    for bad in ({"lease_duration": 10.0}, {"renew_deadline": 2.4}, {"retry_period": 0.0},
                {"retry_period": -1.0}):
        with pytest.raises(ValueError):
            cls(object(), on_started_leading=lambda lost: None, **bad)


@pytest.mark.parametrize("mod", [wq, awq], ids=["threads", "asyncio"])
def test_work_queue_signatures(mod: Any) -> None:
    assert mod.LOW_PRIORITY == -100
    for cls in (mod.RateLimitingQueue, mod.PriorityQueue):
        assert params(cls)["rate_limiter"].default is None
    pq = mod.PriorityQueue
    for method in ("add", "add_after", "add_rate_limited"):
        assert params(getattr(pq, method))["priority"].default == 0
    assert list(params(mod.DelayingQueue.add_after)) == ["self", "item", "seconds"]
    assert inspect.iscoroutinefunction(awq.Queue.get)
    limiter = params(wq.ItemExponentialFailureRateLimiter)
    assert (limiter["base_delay"].default, limiter["max_delay"].default) == (0.005, 1000.0)
    bucket = params(wq.BucketRateLimiter)
    assert (bucket["qps"].default, bucket["burst"].default) == (10.0, 100)
    assert list(params(wq.ItemFastSlowRateLimiter)) == ["fast_delay", "slow_delay",
                                                        "max_fast_attempts"]
