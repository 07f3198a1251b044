# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Experiment plans: current vs desired, without a server."""

from __future__ import annotations

import pytest
from mlflow.entities import Experiment, ExperimentTag

from ansible_collections.baremetal.mlops.plugins.module_utils.mlflow import experiment
from ansible_collections.baremetal.mlops.plugins.module_utils.mlflow.exceptions import MlflowRefusedError

URI = "http://mlflow.test:5000"


def view(stage="active", tags=None, location="mlflow-artifacts:/7"):
    return dict(experiment_id="7", name="fraud", lifecycle_stage=stage, artifact_location=location,
                tags=dict(tags or {}))


def test_view_of_a_real_experiment_entity():
    exp = Experiment("7", "fraud", "mlflow-artifacts:/7", "active", tags=[ExperimentTag("team", "risk")])
    assert experiment.experiment_view(exp) == view(tags={"team": "risk"})
    assert experiment.experiment_view(None) is None


def test_tags_are_stored_as_strings():
    assert experiment.normalize_tags({"a": 1, "b": True, "c": False, "d": None, 5: "x"}) == {
        "a": "1", "b": "true", "c": "false", "d": "", "5": "x"}
    assert experiment.normalize_tags(None) == {}


def test_missing_experiment_is_created_with_tags_and_location():
    plan = experiment.plan_experiment(None, "present", "fraud", artifact_location="s3://b/fraud", tags={"team": "risk"})
    assert plan["actions"] == [dict(action="create", artifact_location="s3://b/fraud", tags={"team": "risk"})]
    assert plan["after"] == dict(experiment_id=None, name="fraud", lifecycle_stage="active",
                                 artifact_location="s3://b/fraud", tags={"team": "risk"})


def test_existing_experiment_with_its_tags_needs_nothing():
    current = view(tags={"team": "risk", "other": "kept"})
    plan = experiment.plan_experiment(current, "present", "fraud", tags={"team": "risk"},
                                      artifact_location="mlflow-artifacts:/7/")
    assert plan == dict(actions=[], after=current)


def test_only_differing_tags_are_set_and_others_kept():
    plan = experiment.plan_experiment(view(tags={"team": "risk", "other": "kept"}), "present", "fraud",
                                      tags={"team": "ops", "new": 1})
    assert plan["actions"] == [dict(action="set_tag", key="new", value="1"),
                               dict(action="set_tag", key="team", value="ops")]
    assert plan["after"]["tags"] == {"team": "ops", "other": "kept", "new": "1"}


def test_deleted_experiment_is_restored_on_present():
    plan = experiment.plan_experiment(view(stage="deleted"), "present", "fraud")
    assert plan["actions"] == [dict(action="restore")]
    assert plan["after"]["lifecycle_stage"] == "active"


@pytest.mark.parametrize("current", [None, view(stage="deleted")])
def test_absent_when_missing_or_deleted_needs_nothing(current):
    assert experiment.plan_experiment(current, "absent", "fraud") == dict(actions=[], after=current)


def test_absent_deletes_an_active_experiment():
    plan = experiment.plan_experiment(view(), "absent", "fraud")
    assert plan["actions"] == [dict(action="delete")]
    assert plan["after"]["lifecycle_stage"] == "deleted"


def test_another_artifact_location_is_refused_naming_both():
    with pytest.raises(MlflowRefusedError) as err:
        experiment.plan_experiment(view(), "present", "fraud", artifact_location="s3://elsewhere", tracking_uri=URI)
    msg = err.value.message
    assert msg.startswith(URI + " mlflow: experiment 'fraud' (id 7) stores its artifacts in mlflow-artifacts:/7")
    assert "s3://elsewhere" in msg and "nothing was changed" in msg and "Fix: leave artifact_location out" in msg
    assert err.value.kind == "refused"
