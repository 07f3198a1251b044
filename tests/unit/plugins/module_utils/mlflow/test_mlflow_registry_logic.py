# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Registry logic without a server: source matching, alias plans, result shapes (real MLflow entities)."""

from __future__ import annotations

import pytest
from mlflow.entities.model_registry import ModelVersion, ModelVersionTag, RegisteredModel, RegisteredModelAlias

from ansible_collections.baremetal.mlops.plugins.module_utils.mlflow import registry

RUN = "70c01dec86b041d2adb39d285755bf2e"


def mv(version, source, run_id=RUN, tags=None, aliases=None):
    return ModelVersion("fraud", str(version), 1000 + version, last_updated_timestamp=2000 + version,
                        description=None, source=source, run_id=run_id, status="READY",
                        tags=[ModelVersionTag(k, v) for k, v in (tags or {}).items()], aliases=aliases)


def test_runs_uri_and_join():
    assert registry.runs_uri(RUN, "/model/") == "runs:/%s/model" % RUN
    assert registry.join_uri("mlflow-artifacts:/1/%s/artifacts/" % RUN, "model") == \
        "mlflow-artifacts:/1/%s/artifacts/model" % RUN


def test_version_view_takes_aliases_from_the_model():
    view = registry.version_view(mv(2, "models:/m-1", tags={"git": "abc"}), {"champion": "2", "old": "1", "b": "2"})
    assert view == dict(name="fraud", version=2, source="models:/m-1", run_id=RUN, status="READY",
                        tags={"git": "abc"}, aliases=["b", "champion"], description="", creation_timestamp=1002,
                        last_updated_timestamp=2002)


def test_version_view_without_model_aliases_uses_the_versions_own():
    assert registry.version_view(mv(1, "s3://x", run_id="", aliases=["z", "a"]))["aliases"] == ["a", "z"]
    assert registry.version_view(mv(1, "s3://x", run_id=""))["run_id"] is None


def test_registered_model_view():
    rm = RegisteredModel("fraud", description=None, aliases=[RegisteredModelAlias("champion", "3")])
    assert registry.registered_model_view(rm) == dict(name="fraud", description="", tags={}, aliases={"champion": 3})
    assert registry.registered_model_view(None) is None


def test_find_version_picks_the_newest_with_that_source_and_run():
    versions = [registry.version_view(v) for v in (
        mv(1, "models:/m-1"), mv(2, "models:/m-2"), mv(3, "models:/m-1/"), mv(4, "models:/m-1", run_id="other"))]
    assert registry.find_version(versions, ["models:/m-1"], RUN)["version"] == 3
    assert registry.find_version(versions, ["models:/m-1"])["version"] == 4
    assert registry.find_version(versions, ["runs:/%s/model" % RUN, "models:/m-2"], RUN)["version"] == 2
    assert registry.find_version(versions, ["models:/m-9"], RUN) is None
    assert registry.find_version([], ["models:/m-1"]) is None


def test_version_update_plan_sets_only_what_differs():
    current = registry.version_view(mv(1, "models:/m-1", tags={"a": "1", "keep": "x"}))
    assert registry.plan_version_update(current, {"a": 1}, None) == dict(actions=[], after=current)
    plan = registry.plan_version_update(current, {"a": 2, "b": True}, "retrained")
    assert plan["actions"] == [dict(action="set_tag", key="a", value="2"), dict(action="set_tag", key="b", value="true"),
                               dict(action="set_description", description="retrained")]
    assert plan["after"]["tags"] == {"a": "2", "b": "true", "keep": "x"}
    assert plan["after"]["description"] == "retrained"
    assert current["tags"] == {"a": "1", "keep": "x"}  # the view before is not changed


@pytest.mark.parametrize("aliases, alias, state, version, expected", [
    ({}, "champion", "present", 1, dict(action="set", version=1, previous_version=None)),
    ({"champion": "1"}, "champion", "present", 1, dict(action=None, version=1, previous_version=1)),
    ({"champion": "1"}, "champion", "present", 2, dict(action="set", version=2, previous_version=1)),
    ({"champion": "1"}, "challenger", "present", 1, dict(action="set", version=1, previous_version=None)),
    ({"champion": "1"}, "champion", "absent", None, dict(action="delete", version=None, previous_version=1)),
    ({"champion": "1"}, "champion", "absent", 1, dict(action="delete", version=None, previous_version=1)),
    ({"champion": "1"}, "champion", "absent", 2, dict(action=None, version=1, previous_version=1)),
    ({}, "champion", "absent", None, dict(action=None, version=None, previous_version=None)),
])
def test_alias_plan(aliases, alias, state, version, expected):
    assert registry.plan_alias(aliases, alias, state, version) == expected


def test_name_filter_quotes():
    assert registry._name_filter("fraud") == "name = 'fraud'"
    assert registry._name_filter("it's") == 'name = "it\'s"'
