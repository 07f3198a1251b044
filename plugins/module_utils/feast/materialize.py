# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Materialize feature views into the online store, incrementally, only where the interval advances.

:func:`plan_views` is pure: for each view it computes the interval Feast
would materialize (``feast materialize-incremental``: from the end of the
last materialization, or from ``now - ttl`` the first time) and whether it is
worth running. A view whose interval is empty (already materialized up to
``end``) is skipped, so a second run with the same end date writes nothing.
With an explicit ``start`` (``feast materialize START END``) a view is
skipped when a recorded interval already covers ``[start, end]``.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from ansible_collections.baremetal.mlops.plugins.module_utils.feast.exceptions import FeastError

# Feast's start for a view with ttl 0 that was never materialized.
ZERO_TTL_LOOKBACK = timedelta(weeks=52)


def parse_time(value, now=None):
    """An aware UTC datetime from ISO8601 (``Z`` or an offset; naive means UTC); ``now``/empty means now."""
    now = now or datetime.now(timezone.utc)
    if value in (None, "", "now"):
        return now
    if isinstance(value, datetime):
        parsed = value
    else:
        text = str(value).strip()
        text = re.sub(r"[Zz]$", "+00:00", text)
        text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text)
        # Python < 3.11 accepts only 0, 3 or 6 fraction digits.
        match = re.match(r"^(.*T\d{2}:\d{2}:\d{2})\.(\d+)(.*)$", text)
        if match:
            text = "%s.%s%s" % (match.group(1), (match.group(2) + "000000")[:6], match.group(3))
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError("%r is not an ISO8601 date and time (e.g. 2026-05-01T12:00:00Z)" % (value,))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def iso(value):
    return None if value is None else value.astimezone(timezone.utc).isoformat()


def _aware(value):
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def plan_views(views, end, now, start=None):
    """For each view ``{name, ttl_s, intervals: [(start, end)]}``: ``{name, start, end, materialized}``.

    ``materialized`` says whether the view needs to run (its interval is not
    empty, or not yet covered when ``start`` is given). Raises ValueError for
    a view that has no ttl and was never materialized (Feast cannot pick a
    start for it).
    """
    planned = []
    for view in views:
        intervals = [(_aware(s), _aware(e)) for s, e in view.get("intervals") or []]
        if start is not None:
            view_start = _aware(start)
            run = not any(s <= view_start and end <= e for s, e in intervals)
        else:
            view_start = max(e for _s, e in intervals) if intervals else None
            if view_start is None:
                ttl_s = view.get("ttl_s")
                if ttl_s is None:
                    raise ValueError("feature view %s has no ttl and was never materialized: Feast cannot tell "
                                     "where to start" % view["name"])
                view_start = now - (timedelta(seconds=ttl_s) if ttl_s > 0 else ZERO_TTL_LOOKBACK)
            run = view_start < end
        planned.append(dict(name=view["name"], start=view_start, end=end, materialized=run))
    return planned


def intervals_of(view):
    return sorted((_aware(s), _aware(e)) for s, e in view.materialization_intervals)


def describe_view(view):
    """The plan_views() input for a Feast FeatureView."""
    ttl = view.ttl
    return dict(name=view.name, ttl_s=None if ttl is None else ttl.total_seconds(), intervals=intervals_of(view))


class Materializer(object):
    """Plan and run materialization for a :class:`FeastRepo` (store.open_repo)."""

    def __init__(self, repo):
        self.repo = repo
        self.store = repo.store

    def views(self, names=None):
        """The feature views to materialize (online ones, or those named), as Feast objects by name."""
        with self.repo.errors("read the feature views from the registry", bounded=True):
            self.store.registry.refresh(project=self.repo.project)
            found = dict((v.name, v) for v in self.store.list_feature_views() if v.online or names)
        if names:
            unknown = [n for n in names if n not in found]
            if unknown:
                raise FeastError(
                    "feature view(s) %s not in project %s (known: %s)" % (
                        ", ".join(unknown), self.repo.project, ", ".join(sorted(found)) or "none"),
                    host=self.repo.registry_endpoint, component="feast registry",
                    hint="apply the feature repository first (baremetal.mlops.feast_apply) or fix feature_views")
            return dict((n, found[n]) for n in names)
        return found

    def plan(self, names, end, start=None, now=None):
        views = self.views(names)
        now = now or datetime.now(timezone.utc)
        try:
            planned = plan_views([describe_view(v) for v in views.values()], end, now, start=start)
        except ValueError as exc:
            raise FeastError(str(exc), host=self.repo.registry_endpoint, component="feast registry",
                             hint="set a ttl on the feature view, or materialize it once with start_date")
        before = dict((name, intervals_of(v)) for name, v in views.items())
        return planned, before

    def run(self, planned, end, start=None):
        """Materialize the views marked ``materialized``; returns their intervals read back from the registry."""
        names = [p["name"] for p in planned if p["materialized"]]
        if names:
            with self.repo.errors("materialize %s" % ", ".join(names)):
                if start is None:
                    self.store.materialize_incremental(end_date=end, feature_views=names)
                else:
                    self.store.materialize(start_date=start, end_date=end, feature_views=names)
        return self.intervals([p["name"] for p in planned])

    def intervals(self, names):
        with self.repo.errors("read the feature views from the registry", bounded=True):
            self.store.registry.refresh(project=self.repo.project)
            found = dict((v.name, v) for v in self.store.list_feature_views())
        return dict((n, intervals_of(found[n]) if n in found else []) for n in names)


def public(planned):
    return [dict(name=p["name"], start=iso(p["start"]), end=iso(p["end"]), materialized=p["materialized"])
            for p in planned]
