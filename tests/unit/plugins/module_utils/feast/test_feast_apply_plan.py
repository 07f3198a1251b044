# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What feast_apply would change, from the registry's and the repository's names and fingerprints."""

from __future__ import annotations

from ansible_collections.baremetal.mlops.plugins.module_utils.feast.apply import (
    compute_changes,
    has_changes,
    names_by_kind,
    predict_after,
)


def test_everything_added_to_an_empty_registry():
    desired = {"entity": {"driver": b"1", "__dummy": b"d"}, "feature_view": {"stats": b"2"}, "project": {"p": b"p"}}
    changes = compute_changes({}, desired)
    assert changes == {
        "added": [{"kind": "project", "name": "p"}, {"kind": "entity", "name": "driver"},
                  {"kind": "feature_view", "name": "stats"}],
        "updated": [], "removed": []}
    assert has_changes(changes)


def test_same_fingerprints_change_nothing():
    state = {"entity": {"driver": b"1", "__dummy": b"d"}, "data_source": {"src": b"s"}}
    changes = compute_changes(state, dict(state))
    assert not has_changes(changes)


def test_updated_and_removed():
    current = {"entity": {"driver": b"1", "rider": b"r"}, "feature_view": {"a": b"a", "b": b"b"}}
    desired = {"entity": {"driver": b"1"}, "feature_view": {"a": b"A", "b": b"b", "c": b"c"}}
    changes = compute_changes(current, desired)
    assert changes["added"] == [{"kind": "feature_view", "name": "c"}]
    assert changes["updated"] == [{"kind": "feature_view", "name": "a"}]
    assert changes["removed"] == [{"kind": "entity", "name": "rider"}]


def test_dummy_entity_never_reported():
    assert not has_changes(compute_changes({"entity": {"__dummy": b"x"}}, {"entity": {"__dummy": b"y"}}))
    assert not has_changes(compute_changes({"entity": {"__dummy": b"x"}}, {}))


def test_diff_views():
    current = {"entity": {"driver": b"1", "__dummy": b"d"}, "feature_view": {}}
    changes = compute_changes(current, {"entity": {"driver": b"1"}, "feature_view": {"v": b"v"}})
    assert names_by_kind(current) == {"entity": ["driver"]}
    assert names_by_kind(predict_after(current, changes)) == {"entity": ["driver"], "feature_view": ["v"]}
