# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Apply a feature repository like ``feast apply``: what would change, then change it.

:func:`compute_changes` is pure: it compares the registry's objects with the
repository's, both given as ``{kind: {name: fingerprint}}``. The fingerprint
of an object is its spec proto, serialised deterministically, without the
fields the registry fills in itself (``project``, ``meta``: timestamps,
materialization intervals), so a second run finds nothing to change.
"""

from __future__ import annotations

# Kinds in the order they are reported; the value is Feast's FeastObjectType value.
KINDS = (
    ("project", "project"),
    ("data_source", "data source"),
    ("entity", "entity"),
    ("feature_view", "feature view"),
    ("on_demand_feature_view", "on demand feature view"),
    ("stream_feature_view", "stream feature view"),
    ("label_view", "label view"),
    ("feature_service", "feature service"),
    ("permission", "permission"),
)
KIND_ORDER = dict((kind, index) for index, (kind, _feast) in enumerate(KINDS))
# Feast adds this entity to every repository for entity-less feature views; never reported.
HIDDEN = {("entity", "__dummy")}


def _sort_key(item):
    return (KIND_ORDER.get(item["kind"], len(KIND_ORDER)), item["kind"], item["name"])


def compute_changes(current, desired):
    """Objects to add, update and remove to turn ``current`` into ``desired``.

    Both are ``{kind: {name: fingerprint}}``; a name in both whose
    fingerprints differ is updated. Returns ``{added, updated, removed}``,
    each a sorted list of ``{kind, name}``.
    """
    changes = dict(added=[], updated=[], removed=[])
    for kind in set(current) | set(desired):
        have = current.get(kind) or {}
        want = desired.get(kind) or {}
        for name in want:
            if (kind, name) in HIDDEN:
                continue
            if name not in have:
                changes["added"].append(dict(kind=kind, name=name))
            elif have[name] != want[name]:
                changes["updated"].append(dict(kind=kind, name=name))
        for name in have:
            if name not in want and (kind, name) not in HIDDEN:
                changes["removed"].append(dict(kind=kind, name=name))
    for items in changes.values():
        items.sort(key=_sort_key)
    return changes


def has_changes(changes):
    return any(changes[key] for key in ("added", "updated", "removed"))


def names_by_kind(snapshot):
    """``{kind: [names]}`` of a snapshot, sorted, without hidden objects: the diff's before/after."""
    return dict((kind, sorted(n for n in names if (kind, n) not in HIDDEN))
                for kind, names in sorted(snapshot.items(), key=lambda kv: KIND_ORDER.get(kv[0], 99)) if names)


def predict_after(current, changes):
    """The snapshot names after applying ``changes`` to ``current`` (for check mode's diff)."""
    after = dict((kind, set(names)) for kind, names in current.items())
    for item in changes["added"]:
        after.setdefault(item["kind"], set()).add(item["name"])
    for item in changes["removed"]:
        after.get(item["kind"], set()).discard(item["name"])
    return dict((kind, dict.fromkeys(names)) for kind, names in after.items())


# --- Feast side -----------------------------------------------------------------------------------------------------

# Fields the registry fills in, at any depth (a feature view embeds its data sources, with their meta).
REGISTRY_FIELDS = ("project", "meta", "created_timestamp", "last_updated_timestamp")


def _repeated(field):
    flag = getattr(field, "is_repeated", None)
    return flag if isinstance(flag, bool) else field.label == field.LABEL_REPEATED


def _scrub(message):
    for name in REGISTRY_FIELDS:
        if name in message.DESCRIPTOR.fields_by_name:
            message.ClearField(name)
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            entries = value.values() if field.message_type.fields_by_name["value"].message_type else []
            for entry in entries:
                _scrub(entry)
        elif _repeated(field):
            for item in value:
                _scrub(item)
        else:
            _scrub(value)


def fingerprint(obj):
    """Deterministic bytes of an object's definition, without what the registry fills in."""
    proto = obj.to_proto()
    fields = proto.DESCRIPTOR.fields_by_name
    spec = proto.spec if "spec" in fields else proto
    copy = type(spec)()
    copy.CopyFrom(spec)
    _scrub(copy)
    return copy.SerializeToString(deterministic=True)


def _feast_kinds():
    from feast.infra.registry.registry import FeastObjectType

    by_value = dict((t.value, t) for t in FeastObjectType)
    return [(kind, by_value[value]) for kind, value in KINDS if value in by_value]


def registry_objects(registry, project):
    """``{kind: {name: object}}`` of what the registry holds for the project (read fresh, not cached)."""
    from feast.infra.registry.registry import FeastObjectType

    registry.refresh(project=project)
    found = FeastObjectType.get_objects_from_registry(registry, project)
    return dict((kind, dict((o.name, o) for o in found.get(ftype, []) if o.name)) for kind, ftype in _feast_kinds())


def repo_objects(contents):
    """``{kind: {name: object}}`` of a repository's definitions."""
    from feast.infra.registry.registry import FeastObjectType

    found = FeastObjectType.get_objects_from_repo_contents(contents)
    return dict((kind, dict((o.name, o) for o in found.get(ftype, []) if o.name)) for kind, ftype in _feast_kinds())


def fingerprints(objects):
    return dict((kind, dict((name, fingerprint(o)) for name, o in named.items())) for kind, named in objects.items())


class RepoApplier(object):
    """Plan and apply one feature repository (a :class:`FeastRepo` from store.open_repo)."""

    def __init__(self, repo):
        self.repo = repo
        self.store = repo.store

    def current(self):
        with self.repo.errors("read the registry", bounded=True):
            return registry_objects(self.store.registry, self.repo.project)

    def plan(self):
        """(current objects, desired objects, changes). Validates the definitions and runs Feast's inference."""
        contents = self.repo.contents()
        with self.repo.errors("validate the definitions (feast plan)", bounded=True):
            # plan() validates the definitions and infers schemas and entity columns in place; its own
            # registry diff is not used (it reports data sources as updated on every run).
            self.store.plan(contents)
        desired = repo_objects(contents)
        current = self.current()
        return current, desired, compute_changes(fingerprints(current), fingerprints(desired))

    def apply(self, current, desired, changes):
        """Apply like ``feast apply`` (register every definition, delete what the repository dropped)."""
        to_apply = [o for named in desired.values() for o in named.values()]
        removed = set((item["kind"], item["name"]) for item in changes["removed"])
        to_delete = [o for kind, named in current.items() for name, o in named.items() if (kind, name) in removed]
        with self.repo.errors("apply the feature repository"):
            self.store.apply(to_apply, objects_to_delete=to_delete, partial=False)
        return self.current()
