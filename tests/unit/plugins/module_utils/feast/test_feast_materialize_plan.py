# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Which feature views feast_materialize runs, and from when to when; ISO8601 parsing."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ansible_collections.baremetal.mlops.plugins.module_utils.feast.materialize import parse_time, plan_views

NOW = datetime(2026, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
DAY = 86400


def test_first_run_starts_at_now_minus_ttl():
    (view,) = plan_views([dict(name="v", ttl_s=DAY, intervals=[])], NOW, NOW)
    assert view == dict(name="v", start=NOW - timedelta(days=1), end=NOW, materialized=True)


def test_zero_ttl_looks_back_a_year_and_no_ttl_is_an_error():
    (view,) = plan_views([dict(name="v", ttl_s=0, intervals=[])], NOW, NOW)
    assert view["start"] == NOW - timedelta(weeks=52)
    with pytest.raises(ValueError, match="no ttl"):
        plan_views([dict(name="v", ttl_s=None, intervals=[])], NOW, NOW)


def test_incremental_starts_at_last_end_and_skips_an_empty_interval():
    intervals = [(NOW - timedelta(days=2), NOW - timedelta(days=1)), (NOW - timedelta(days=1), NOW)]
    (same,) = plan_views([dict(name="v", ttl_s=DAY, intervals=intervals)], NOW, NOW)
    assert same["start"] == NOW and same["materialized"] is False
    later = NOW + timedelta(hours=1)
    (more,) = plan_views([dict(name="v", ttl_s=DAY, intervals=intervals)], later, later)
    assert more["start"] == NOW and more["materialized"] is True
    (earlier,) = plan_views([dict(name="v", ttl_s=DAY, intervals=intervals)], NOW - timedelta(hours=1), NOW)
    assert earlier["materialized"] is False


def test_explicit_start_runs_unless_covered():
    start, end = NOW - timedelta(days=3), NOW - timedelta(days=2)
    (first,) = plan_views([dict(name="v", ttl_s=DAY, intervals=[])], end, NOW, start=start)
    assert first["start"] == start and first["materialized"] is True
    covered = [(start - timedelta(hours=1), end)]
    (again,) = plan_views([dict(name="v", ttl_s=DAY, intervals=covered)], end, NOW, start=start)
    assert again["materialized"] is False


def test_naive_intervals_are_utc():
    naive = [(datetime(2026, 4, 30, 12), datetime(2026, 5, 1, 12))]
    (view,) = plan_views([dict(name="v", ttl_s=DAY, intervals=naive)], NOW, NOW)
    assert view["materialized"] is False


@pytest.mark.parametrize("text, expected", [
    ("2026-05-01T12:00:00Z", NOW),
    ("2026-05-01T12:00:00+00:00", NOW),
    ("2026-05-01T14:00:00+0200", NOW),
    ("2026-05-01T12:00:00", NOW),
    ("2026-05-01T12:00:00.5Z", NOW + timedelta(milliseconds=500)),
    ("2026-05-01T12:00:00.123456789Z", NOW + timedelta(microseconds=123456)),
])
def test_parse_time(text, expected):
    assert parse_time(text) == expected


def test_parse_time_default_and_errors():
    assert parse_time(None, now=NOW) == NOW
    assert parse_time("", now=NOW) == NOW
    with pytest.raises(ValueError, match="ISO8601"):
        parse_time("yesterday")
