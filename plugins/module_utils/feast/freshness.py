# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Freshness of online feature values (pure: no Feast, no I/O).

Input is what ``FeatureStore.get_online_features(...).to_dict(include_event_timestamps=True)``
returns: one list per join key and per feature (one value per entity row),
and for each feature ``<feature>__ts`` with the event timestamps in epoch
seconds (0 when the online store has no value).

A probe is fresh when every requested feature of every entity row has a
value, and the newest event timestamp among them is at most ``max_age_s``
old. A value that is present but old makes the probe stale (``age_s`` says
how old); a missing value makes it not fresh too (``missing`` says which).
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


def evaluate(feature_view, entity_rows, features, response, max_age_s, now):
    """The freshness of one probe.

    :param feature_view: name of the feature view probed.
    :param entity_rows: the entity rows read, e.g. ``[{"driver_id": 1001}]``.
    :param features: feature names (without the view prefix) read.
    :param response: the ``to_dict(include_event_timestamps=True)`` result.
    :param max_age_s: the freshness SLO in seconds.
    :param now: an aware datetime.
    :returns: ``{feature_view, entity_rows, newest_event_timestamp, age_s,
        max_age_s, fresh, missing, row_values}``; ``row_values`` has one dict per
        entity row (its features' values and ``event_timestamp``), ``missing``
        one ``{entity_row, features}`` per row with features that came back empty.
    """
    now_s = _epoch(now)
    newest = None
    missing = []
    values = []
    for index, row in enumerate(entity_rows):
        row_values = {}
        row_missing = []
        row_newest = None
        for feature in features:
            column = response.get(feature) or []
            stamps = response.get(feature + TIMESTAMP_SUFFIX) or []
            value = column[index] if index < len(column) else None
            stamp = _epoch(stamps[index]) if index < len(stamps) else None
            row_values[feature] = _json_value(value)
            if value is None:
                row_missing.append(feature)
                continue
            if stamp is not None and (row_newest is None or stamp > row_newest):
                row_newest = stamp
        row_values["event_timestamp"] = _iso(row_newest)
        values.append(row_values)
        if row_missing:
            missing.append(dict(entity_row=dict(row), features=row_missing))
        if row_newest is not None and (newest is None or row_newest > newest):
            newest = row_newest
    age_s = None if newest is None else round(max(0.0, now_s - newest), 3)
    fresh = bool(entity_rows) and not missing and age_s is not None and age_s <= max_age_s
    return dict(feature_view=feature_view, entity_rows=[dict(r) for r in entity_rows],
                newest_event_timestamp=_iso(newest), age_s=age_s, max_age_s=max_age_s, fresh=fresh,
                missing=missing, row_values=values)


def summarize(results):
    """``(stale, ok)``: names of the feature views with a probe that is not fresh (sorted, once each), and
    whether every probe is fresh."""
    stale = sorted(set(r["feature_view"] for r in results if not r["fresh"]))
    return stale, not stale
