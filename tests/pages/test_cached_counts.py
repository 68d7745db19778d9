"""pages.versioned_cache: values per data version, served stale while being computed."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from pages.versioned_cache import _get_or_compute, invalidate_dashboard, per_data_version

pytestmark = pytest.mark.django_db


class Counter:
    def __init__(self, value):
        self.value, self.calls = value, 0

    def __call__(self):
        self.calls += 1
        return self.value


def test_a_value_is_computed_once_per_data_version():
    compute = Counter(41)
    assert per_data_version("essai", compute) == 41
    assert per_data_version("essai", compute) == 41
    assert compute.calls == 1
    invalidate_dashboard()
    compute.value = 42
    assert per_data_version("essai", compute) == 42
    assert compute.calls == 2


def test_while_another_process_computes_the_new_version_the_last_value_is_served():
    assert _get_or_compute("essai", "v1", Counter(1), stale_while_computing=True) == 1
    # Another process has started on v2 (it holds the flag) and has not finished.
    cache.add("essai:v2:computing", 1)
    late = Counter(2)
    assert _get_or_compute("essai", "v2", late, stale_while_computing=True) == 1
    assert late.calls == 0
    # Once it is done, v2 is read.
    cache.set("essai:v2", 2)
    assert _get_or_compute("essai", "v2", late, stale_while_computing=True) == 2


def test_with_nothing_to_serve_or_for_a_list_s_ids_the_value_is_computed():
    cache.add("essai:v1:computing", 1)
    first = Counter(1)
    assert _get_or_compute("essai", "v1", first, stale_while_computing=True) == 1
    assert first.calls == 1
    assert cache.get("essai:v1:computing") is None
    cache.add("essai:v2:computing", 1)
    ids = Counter([3, 1, 2])
    assert _get_or_compute("essai", "v2", ids, stale_while_computing=False) == [3, 1, 2]
    assert ids.calls == 1


def test_a_failed_computation_lets_the_next_request_try_again():
    def broken():
        raise RuntimeError("base indisponible")

    with pytest.raises(RuntimeError):
        _get_or_compute("essai", "v1", broken, stale_while_computing=True)
    assert _get_or_compute("essai", "v1", Counter(5), stale_while_computing=True) == 5


def test_the_processes_share_one_version_and_see_another_s_invalidation_within_a_second(monkeypatch):
    from pages import versioned_cache

    compute = Counter(1)
    assert per_data_version("essai", compute) == 1
    shared = cache.get(versioned_cache._SHARED_KEY)
    assert shared["counter"] == "1" and set(shared) == {
        "counter",
        *versioned_cache.EVERYTHING,
        versioned_cache.WORK,
    }
    # Another process's invalidate_dashboard(): it bumps the counter and drops the shared reading.
    cache.incr(versioned_cache._COUNTER_KEY)
    cache.delete(versioned_cache._SHARED_KEY)
    compute.value = 2
    assert per_data_version("essai", compute) == 1  # this process read the version less than 1 s ago
    monkeypatch.setattr(versioned_cache, "_LOCAL_TTL", 0)
    assert per_data_version("essai", compute) == 2
    assert cache.get(versioned_cache._SHARED_KEY)["counter"] == "2"


def test_a_process_uses_the_reading_another_one_shared(monkeypatch):
    from pages import versioned_cache

    monkeypatch.setattr(versioned_cache, "_LOCAL_TTL", 0)
    version = versioned_cache.data_version()
    theirs = {**cache.get(versioned_cache._SHARED_KEY), versioned_cache.FT: "lu-par-un-autre"}
    cache.set(versioned_cache._SHARED_KEY, theirs)
    assert versioned_cache.data_version() != version
    assert "lu-par-un-autre" in versioned_cache.data_version()


def test_a_process_keeps_its_recent_values_a_minute_and_the_newest_only():
    from pages.versioned_cache import _Recent

    recent = _Recent(size=2, seconds=60)
    for key in ("a", "b", "c"):
        recent.put(key, key.upper())
    assert [recent.get(key) for key in ("a", "b", "c")] == [None, "B", "C"]
    recent.get("b")  # b is now the most recent: d pushes c out
    recent.put("d", "D")
    assert [recent.get(key) for key in ("b", "c", "d")] == ["B", None, "D"]
    expired = _Recent(size=2, seconds=-1)  # already expired when put
    expired.put("a", "A")
    assert expired.get("a") is None


def test_after_a_monthly_import_a_stale_dashboard_is_the_previous_month_s_throughout(monkeypatch):
    from datetime import date

    from pages import dashboard, versioned_cache

    everyone = None  # the whole Département
    january = dashboard.dashboard_data(everyone, date(2025, 1, 31))
    invalidate_dashboard()  # February's stock is in
    # Another process is computing every one of the new values.
    monkeypatch.setattr(versioned_cache.cache, "add", lambda *args, **kwargs: False)
    served = dashboard.dashboard_data(everyone, date(2025, 2, 28))
    assert served["months"] == january["months"] and served["months"][-1] == date(2025, 1, 1)
    assert all(len(values) == len(served["months"]) for values in served["series"].values())
    monkeypatch.undo()
    fresh = dashboard.dashboard_data(everyone, date(2025, 2, 28))
    assert fresh["months"][-1] == date(2025, 2, 1)


def test_while_the_import_computes_the_new_values_the_pages_serve_the_previous_ones():
    from pages import versioned_cache

    compute = Counter(41)
    assert per_data_version("essai", compute) == 41
    invalidate_dashboard(computed_next=True)  # an import has committed; its worker computes next
    compute.value = 42
    assert per_data_version("essai", compute) == 41
    assert compute.calls == 1  # the page did not compute the new value beside the import
    with versioned_cache.computing_after_import():
        assert per_data_version("essai", compute) == 42  # the import's worker computes it
    assert compute.calls == 2
    assert cache.get(versioned_cache._AFTER_IMPORT_KEY) is None
    assert per_data_version("essai", compute) == 42
    assert compute.calls == 2


def test_what_the_import_s_worker_has_not_announced_or_cannot_serve_stale_is_computed():
    from pages import versioned_cache

    # An import that does not compute the counts itself (import_pecgm() alone): pages compute.
    compute = Counter(1)
    assert per_data_version("essai", compute) == 1
    invalidate_dashboard()
    compute.value = 2
    assert per_data_version("essai", compute) == 2
    # Announced, but nothing computed before to serve, or a list's ids (never served stale).
    invalidate_dashboard(computed_next=True)
    first = Counter(7)
    assert per_data_version("jamais-calcule", first) == 7
    ids = Counter([3, 1, 2])
    assert _get_or_compute("liste", "v9", ids, stale_while_computing=False) == [3, 1, 2]
    assert first.calls == ids.calls == 1
    # A worker that died before computing: once the flag's time is up, pages compute again.
    cache.delete(versioned_cache._AFTER_IMPORT_KEY)
    compute.value = 3
    assert per_data_version("essai", compute) == 3


def test_the_announcement_lasts_a_minute_at_most(monkeypatch):
    from pages import versioned_cache

    kept = {}
    real_set = versioned_cache.cache.set

    def set_and_keep_timeout(key, value, timeout=None, **kwargs):
        kept[key] = timeout
        return real_set(key, value, timeout, **kwargs)

    monkeypatch.setattr(versioned_cache.cache, "set", set_and_keep_timeout)
    invalidate_dashboard(computed_next=True)
    assert kept[versioned_cache._AFTER_IMPORT_KEY] == versioned_cache._COMPUTING_SECONDS == 60
