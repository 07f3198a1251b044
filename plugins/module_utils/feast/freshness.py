# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Freshness of online feature values (pure: no Feast, no I/O).

Input is what ``FeatureStore.get_online_features(...).to_dict(include_event_timestamps=True)``
returns: one list per join key and per feature (one value per entity row),
and for each feature ``<feature>__ts`` with the event timestamps in epoch
seconds (0 when the online store has no value).

A probe is fresh when every requested feature of every entity row has a
value, the stalest entity row is at most ``max_age_s`` old, and no event
lies in the future beyond ``max_future_skew_s``. Each entity row is judged
by its oldest probed feature, and the stalest row decides (``age_s``,
``stalest_entity_row``): one fresh entity never hides a stale one. An event
timestamp ahead of now by more than the skew (a producer's clock or time
zone) is not fresh (``future`` says which rows, and by how much). A missing
value makes the probe not fresh too (``missing`` says which).
"""

from __future__ import annotations

from datetime import datetime, timezone

TIMESTAMP_SUFFIX = "__ts"


def _epoch(value):
    """Epoch seconds from an int/float (seconds), a datetime, or None."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.timestamp()
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds > 0 else None


def _iso(seconds):
    return None if seconds is None else datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat()


def _json_value(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):  # numpy scalars
        try:
            return value.item()
        except (TypeError, ValueError):
            pass
    return value


def evaluate(feature_view, entity_rows, features, response, max_age_s, now, max_future_skew_s=60):
    """The freshness of one probe.

    :param feature_view: name of the feature view probed.
    :param entity_rows: the entity rows read, e.g. ``[{"driver_id": 1001}]``.
    :param features: feature names (without the view prefix) read.
    :param response: the ``to_dict(include_event_timestamps=True)`` result.
    :param max_age_s: the freshness SLO in seconds.
    :param now: an aware datetime.
    :param max_future_skew_s: how far ahead of now an event may lie (clock skew) before it is not fresh.
    :returns: ``{feature_view, entity_rows, newest_event_timestamp, oldest_event_timestamp, age_s,
        stalest_entity_row, max_age_s, max_future_skew_s, future, fresh, missing, row_values}``; ``age_s`` is the
        stalest row's age; ``row_values`` has one dict per entity row (its features' values and
        ``event_timestamp``, the row's oldest); ``missing`` one ``{entity_row, features}`` per row with features
        that came back empty; ``future`` one ``{entity_row, event_timestamp, ahead_s}`` per row with an event
        beyond the skew.
    """
    now_s = _epoch(now)
    newest = oldest = stalest_row = None
    missing, values, future = [], [], []
    for index, row in enumerate(entity_rows):
        row_values = {}
        row_missing = []
        stamps_of_row = []
        for feature in features:
            column = response.get(feature) or []
            stamps = response.get(feature + TIMESTAMP_SUFFIX) or []
            value = column[index] if index < len(column) else None
            stamp = _epoch(stamps[index]) if index < len(stamps) else None
            row_values[feature] = _json_value(value)
            if value is None:
                row_missing.append(feature)
                continue
            if stamp is not None:
                stamps_of_row.append(stamp)
        row_oldest = min(stamps_of_row) if stamps_of_row else None
        row_values["event_timestamp"] = _iso(row_oldest)
        values.append(row_values)
        if row_missing:
            missing.append(dict(entity_row=dict(row), features=row_missing))
        if stamps_of_row and max(stamps_of_row) - now_s > max_future_skew_s:
            future.append(dict(entity_row=dict(row), event_timestamp=_iso(max(stamps_of_row)),
                               ahead_s=round(max(stamps_of_row) - now_s, 3)))
        if stamps_of_row and (newest is None or max(stamps_of_row) > newest):
            newest = max(stamps_of_row)
        if row_oldest is not None and (oldest is None or row_oldest < oldest):
            oldest, stalest_row = row_oldest, dict(row)
    age_s = None if oldest is None else round(max(0.0, now_s - oldest), 3)
    fresh = bool(entity_rows) and not missing and not future and age_s is not None and age_s <= max_age_s
    return dict(feature_view=feature_view, entity_rows=[dict(r) for r in entity_rows],
                newest_event_timestamp=_iso(newest), oldest_event_timestamp=_iso(oldest), age_s=age_s,
                stalest_entity_row=stalest_row, max_age_s=max_age_s, max_future_skew_s=max_future_skew_s,
                future=future, fresh=fresh, missing=missing, row_values=values)


def summarize(results):
    """``(stale, ok)``: names of the feature views with a probe that is not fresh (sorted, once each), and
    whether every probe is fresh."""
    stale = sorted(set(r["feature_view"] for r in results if not r["fresh"]))
    return stale, not stale
