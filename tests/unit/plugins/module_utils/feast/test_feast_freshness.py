# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Freshness of online values, from the shape of OnlineResponse.to_dict(include_event_timestamps=True)."""

from __future__ import annotations

from datetime import datetime, timezone

from ansible_collections.baremetal.mlops.plugins.module_utils.feast.freshness import evaluate, summarize

NOW = datetime(2026, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
T = int(NOW.timestamp())


def response(ids, conv, ts):
    return {"driver_id": ids, "conv_rate": conv, "conv_rate__ts": ts, "acc_rate": conv, "acc_rate__ts": ts}


def test_fresh_values():
    res = evaluate("v", [{"driver_id": 1}, {"driver_id": 2}], ["conv_rate", "acc_rate"],
                   response([1, 2], [0.5, 0.6], [T - 600, T - 300]), 3600, NOW)
    assert res["fresh"] is True
    assert res["age_s"] == 600.0  # the stalest entity decides
    assert res["stalest_entity_row"] == {"driver_id": 1}
    assert res["newest_event_timestamp"] == "2026-05-01T11:55:00+00:00"
    assert res["oldest_event_timestamp"] == "2026-05-01T11:50:00+00:00"
    assert res["missing"] == []
    assert res["row_values"][0] == {"conv_rate": 0.5, "acc_rate": 0.5, "event_timestamp": "2026-05-01T11:50:00+00:00"}


def test_old_values_are_stale_but_reported():
    res = evaluate("v", [{"driver_id": 1}], ["conv_rate"], response([1], [0.5], [T - 3 * 86400]), 3600, NOW)
    assert res["fresh"] is False
    assert res["age_s"] == 3 * 86400.0
    assert res["row_values"][0]["conv_rate"] == 0.5
    assert res["missing"] == []


def test_missing_values():
    res = evaluate("v", [{"driver_id": 1}, {"driver_id": 9}], ["conv_rate", "acc_rate"],
                   response([1, 9], [0.5, None], [T - 10, 0]), 3600, NOW)
    assert res["fresh"] is False
    assert res["age_s"] == 10.0
    assert res["missing"] == [{"entity_row": {"driver_id": 9}, "features": ["conv_rate", "acc_rate"]}]
    assert res["row_values"][1]["event_timestamp"] is None


def test_nothing_came_back():
    res = evaluate("v", [{"driver_id": 9}], ["conv_rate"], response([9], [None], [0]), 60, NOW)
    assert res["fresh"] is False and res["age_s"] is None and res["newest_event_timestamp"] is None


def test_boundary_is_fresh_and_a_future_within_the_skew_is_age_zero():
    assert evaluate("v", [{"driver_id": 1}], ["conv_rate"], response([1], [1.0], [T - 60]), 60, NOW)["fresh"]
    res = evaluate("v", [{"driver_id": 1}], ["conv_rate"], response([1], [1.0], [T + 60]), 60, NOW)
    assert res["age_s"] == 0.0 and res["fresh"] and res["future"] == []


def test_one_fresh_entity_does_not_hide_a_stale_one():
    """Outside tester's finding (issue 21): the newest value hid a 2-hour-stale entity."""
    res = evaluate("v", [{"driver_id": 1}, {"driver_id": 2}], ["conv_rate"],
                   response([1, 2], [0.5, 0.6], [T - 30, T - 7200]), 1800, NOW)
    assert res["fresh"] is False and res["age_s"] == 7200.0 and res["stalest_entity_row"] == {"driver_id": 2}
    assert res["newest_event_timestamp"] == "2026-05-01T11:59:30+00:00"


def test_within_a_row_the_oldest_feature_decides():
    res = evaluate("v", [{"driver_id": 1}], ["conv_rate", "acc_rate"],
                   {"conv_rate": [0.5], "conv_rate__ts": [T - 10], "acc_rate": [0.4], "acc_rate__ts": [T - 4000]},
                   3600, NOW)
    assert res["fresh"] is False and res["age_s"] == 4000.0 and res["row_values"][0]["event_timestamp"].endswith(
        "10:53:20+00:00")


def test_an_event_in_the_future_beyond_the_skew_is_not_fresh():
    """Outside tester's finding (issue 21): a timestamp 2 hours ahead (a producer's time zone) counted as fresh."""
    res = evaluate("v", [{"driver_id": 1}, {"driver_id": 2}], ["conv_rate"],
                   response([1, 2], [0.5, 0.6], [T - 30, T + 7200]), 1800, NOW)
    assert res["fresh"] is False
    assert res["future"] == [{"entity_row": {"driver_id": 2}, "event_timestamp": "2026-05-01T14:00:00+00:00",
                              "ahead_s": 7200.0}]
    assert evaluate("v", [{"driver_id": 1}], ["conv_rate"], response([1], [1.0], [T + 300]), 60, NOW,
                    max_future_skew_s=600)["fresh"]


def test_datetime_timestamps_and_short_lists():
    res = evaluate("v", [{"driver_id": 1}, {"driver_id": 2}], ["conv_rate"],
                   {"conv_rate": [1.0], "conv_rate__ts": [NOW]}, 60, NOW)
    assert res["age_s"] == 0.0
    assert res["missing"] == [{"entity_row": {"driver_id": 2}, "features": ["conv_rate"]}]


def test_summarize():
    results = [dict(feature_view="b", fresh=False), dict(feature_view="a", fresh=True),
               dict(feature_view="b", fresh=False), dict(feature_view="c", fresh=False)]
    assert summarize(results) == (["b", "c"], False)
    assert summarize([dict(feature_view="a", fresh=True)]) == ([], True)
    assert summarize([]) == ([], True)
