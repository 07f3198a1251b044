#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: mlflow_experiment
short_description: Create, restore, tag or delete an MLflow experiment
version_added: 0.1.0
description:
  - Makes sure the MLflow experiment O(name) exists with the O(tags) given (O(state=present)), or is deleted
    (O(state=absent)).
  - An experiment of that name that was deleted (it stays in MLflow's C(deleted) lifecycle stage until the server's
    garbage collection) is restored by O(state=present), with its runs.
  - Tags named in O(tags) are set; other tags of the experiment are left alone.
  - O(state=absent) deletes the experiment the way the MLflow UI does (lifecycle stage C(deleted)); its runs and
    artifacts stay until C(mlflow gc) removes them.
author:
  - baremetal.mlops contributors (@baremetal-mlops)
requirements:
  - mlflow
extends_documentation_fragment:
  - baremetal.mlops.attributes
  - baremetal.mlops.attributes.state_changing
  - baremetal.mlops.mlflow
  - baremetal.mlops.attributes.actiongroup_mlflow
options:
  name:
    description: Name of the experiment.
    type: str
    required: true
  state:
    description: Whether the experiment exists (and is active) or is deleted.
    type: str
    choices: [present, absent]
    default: present
  artifact_location:
    description:
      - Where the runs of the experiment store their artifacts, e.g. C(s3://mlflow/experiments/fraud). Only used
        when the experiment is created; by default the tracking server chooses (its C(--default-artifact-root) or
        C(--artifacts-destination)).
      - MLflow cannot change it later; a different value for an existing experiment is refused, and nothing is
        changed.
    type: str
  tags:
    description:
      - Tags the experiment must have. Values are stored as strings (V(true) and V(false) for booleans).
    type: dict
"""

EXAMPLES = r"""
- name: Create the experiment of the fraud model
  baremetal.mlops.mlflow_experiment:
    tracking_uri: http://mlflow.mlops.svc:5000
    name: fraud-detection
    tags:
      team: risk
      owner: ml-platform

- name: Delete an experiment
  baremetal.mlops.mlflow_experiment:
    name: scratch
    state: absent
  environment:
    MLOPS_MLFLOW_TRACKING_URI: http://mlflow.mlops.svc:5000
"""

RETURN = r"""
experiment:
  description:
    - The experiment after the change (predicted in check mode); null when there is none.
    - In check mode, the C(experiment_id) of an experiment still to be created is null.
  returned: always
  type: dict
  contains:
    experiment_id:
      description: The experiment's id.
      type: str
      sample: "3"
    name:
      description: The experiment's name.
      type: str
      sample: fraud-detection
    lifecycle_stage:
      description: V(active) or V(deleted).
      type: str
      sample: active
    artifact_location:
      description: Where its runs store artifacts.
      type: str
      sample: mlflow-artifacts:/3
    tags:
      description: Every tag of the experiment.
      type: dict
      sample: {team: risk}
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.baremetal.mlops.plugins.module_utils.common.exceptions import MlopsError
from ansible_collections.baremetal.mlops.plugins.module_utils.mlflow import experiment
from ansible_collections.baremetal.mlops.plugins.module_utils.mlflow.client import (
    HAS_MLFLOW,
    MLFLOW_IMPORT_ERROR,
    check_timeout,
    connect,
    connection_kwargs,
    mlflow_argspec,
)


def argspec():
    return mlflow_argspec(
        name=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        artifact_location=dict(type="str"),
        tags=dict(type="dict"),
    )


def main():
    module = AnsibleModule(argument_spec=argspec(), supports_check_mode=True, **connection_kwargs())
    if not HAS_MLFLOW:
        module.fail_json(msg=missing_required_lib("mlflow"), exception=MLFLOW_IMPORT_ERROR)
    params = module.params
    problem = check_timeout(params["timeout"])
    if problem:
        module.fail_json(msg=problem)
    try:
        conn = connect(params)
        before = experiment.find_experiment(conn, params["name"])
        plan = experiment.plan_experiment(before, params["state"], params["name"],
                                          artifact_location=params["artifact_location"], tags=params["tags"],
                                          tracking_uri=conn.tracking_uri)
        after = plan["after"]
        if plan["actions"] and not module.check_mode:
            experiment_id = experiment.apply_plan(conn, params["name"], before, plan["actions"])
            after = experiment.read_experiment(conn, experiment_id)
    except MlopsError as exc:
        module.fail_json(**exc.fail_kwargs())
    result = dict(changed=before != after, experiment=after)
    if module._diff:
        result["diff"] = dict(before=before or {}, after=after or {})
    module.exit_json(**result)


if __name__ == "__main__":
    main()
