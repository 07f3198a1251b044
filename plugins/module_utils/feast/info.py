# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Read a feature repository's registry and probe the online store (read only)."""

from __future__ import annotations

from datetime import datetime, timezone

from ansible_collections.baremetal.mlops.plugins.module_utils.feast import freshness
from ansible_collections.baremetal.mlops.plugins.module_utils.feast import schema as feast_schema
from ansible_collections.baremetal.mlops.plugins.module_utils.feast.exceptions import FeastError
from ansible_collections.baremetal.mlops.plugins.module_utils.feast.materialize import iso, intervals_of


def describe_entity(entity):
    return dict(name=entity.name, join_keys=[entity.join_key],
                value_type=getattr(entity.value_type, "name", str(entity.value_type)),
                description=entity.description or "")


def describe_feature_view(view):
    intervals = intervals_of(view)
    return dict(
        name=view.name,
        entities=sorted(view.entities or []),
        features=[f.name for f in view.features],
        ttl_s=None if view.ttl is None else view.ttl.total_seconds(),
        online=bool(view.online),
        last_materialization_end=iso(max(e for _s, e in intervals)) if intervals else None,
    )


class Inspector(object):
    """What a :class:`FeastRepo` (store.open_repo) holds, and probes of its online store."""

    def __init__(self, repo):
        self.repo = repo
        self.store = repo.store

    def describe(self):
        with self.repo.errors("read the registry", bounded=True):
            self.store.registry.refresh(project=self.repo.project)
            entities = [describe_entity(e) for e in self.store.list_entities()]
            views = self.store.list_feature_views()
        entities.sort(key=lambda e: e["name"])
        return dict(project=self.repo.project, entities=entities,
                    feature_views=sorted((describe_feature_view(v) for v in views), key=lambda v: v["name"])), \
            dict((v.name, v) for v in views)

    def probe(self, probe, views, now=None):
        """One freshness probe ``{feature_view, entity_rows, max_age_s, max_future_skew_s, features}`` through the
        online store."""
        name = probe["feature_view"]
        view = views.get(name)
        if view is None and self.repo.registry_missing:
            raise FeastError("feature view %s: the registry database has no Feast registry tables at all - the "
                             "repository was never applied there" % name,
                             host=self.repo.registry_endpoint, component="feast registry",
                             hint="apply the repository (baremetal.mlops.feast_apply), or point registry.path of "
                                  "feature_store.yaml at the database it was applied to")
        if view is None:
            raise FeastError("feature view %s not in project %s (known: %s)" % (
                name, self.repo.project, ", ".join(sorted(views)) or "none"),
                host=self.repo.registry_endpoint, component="feast registry",
                hint="apply the feature repository first (baremetal.mlops.feast_apply) or fix the probe")
        known = [f.name for f in view.features]
        features = list(probe.get("features") or known)
        unknown = [f for f in features if f not in known]
        if unknown:
            raise FeastError("feature view %s has no feature(s) %s (it has %s)" % (
                name, ", ".join(unknown), ", ".join(known)), host=self.repo.registry_endpoint,
                component="feast registry", hint="fix the probe's features")
        rows = [dict(r) for r in probe["entity_rows"]]
        with self.repo.errors("read %s from the online store" % name, bounded=True):
            response = self.store.get_online_features(
                features=["%s:%s" % (name, f) for f in features], entity_rows=rows,
            ).to_dict(include_event_timestamps=True)
        return freshness.evaluate(name, rows, features, response, probe["max_age_s"],
                                  now or datetime.now(timezone.utc),
                                  max_future_skew_s=probe.get("max_future_skew_s") or 60)

    def schema(self, name, views):
        """The feature view ``name``'s declared features against its batch source's columns now:
        ``{feature_view, source, checked, columns, problems, error}``. ``checked`` is false (with ``error``) when
        the source cannot say its columns (a source type without that API); a source that cannot be read (its
        table dropped) is a problem of the view, not a failure of the module."""
        view = views.get(name)
        out = dict(feature_view=name, source=None, checked=False, columns=[], problems=[], error=None)
        if view is None:
            out["error"] = "feature view %s is not in the registry" % name
            return out
        source = view.batch_source
        out["source"] = getattr(source, "name", None) or type(source).__name__
        try:
            columns = self._source_columns(name, out["source"], source)
        except FeastError as exc:
            out["checked"] = True
            out["problems"] = [dict(column=None, feature=None, problem="%s: its source %s cannot be read: %s" % (
                name, out["source"], exc.msg))]
            return out
        if columns is None:
            out["error"] = "%s sources cannot list their columns" % type(source).__name__
            return out
        features = [(f.name, f.dtype.to_value_type().name) for f in view.features]
        out["checked"] = True
        out["columns"] = [dict(name=c, type=t) for c, t, _v in columns]
        out["problems"] = feast_schema.compare(
            name, features, columns, field_mapping=getattr(source, "field_mapping", None) or {},
            timestamp_field=getattr(source, "timestamp_field", None) or None,
            join_keys=[c.name for c in (view.entity_columns or [])])
        return out

    def _source_columns(self, name, label, source):
        """``[(column, source type, value type or None)]`` of ``source`` now, or None when its type cannot list
        its columns (Feast raises NotImplementedError: caught here, before :meth:`FeastRepo.errors` would turn it
        into a read failure)."""
        try:
            mapper = source.source_datatype_to_feast_value_type()
        except NotImplementedError:
            return None
        with self.repo.errors("read the columns of %s's source %s" % (name, label), bounded=True):
            try:
                raw = list(source.get_table_column_names_and_types(self.store.config))
            except NotImplementedError:
                return None
            columns = []
            for column, source_type in raw:
                value_type = mapper(str(source_type))
                value_type = getattr(value_type, "name", str(value_type))
                columns.append((column, str(source_type), None if value_type == "UNKNOWN" else value_type))
            return columns
