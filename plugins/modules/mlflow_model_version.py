#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: mlflow_model_version
short_description: Register a model version in the MLflow model registry, once
version_added: 0.1.0
description:
  - Registers the model at O(source), or the model that run O(run_id) logged at O(artifact_path), as a version of
    the registered model O(name), creating the registered model if it is missing.
  - Idempotent. When a version of O(name) already has that source (and that run, when O(run_id) is given), that
    version is reported and no new one is created; only its O(tags) and O(description) are brought in line.
  - With O(run_id) and no O(source), the source is found the way C(mlflow.register_model("runs:/<run_id>/<path>"))
    finds it. A logged model (MLflow 3) of the run named O(artifact_path) gives C(models:/<model_id>); otherwise an
    C(MLmodel) file under the run's artifact URI at O(artifact_path) gives that URI. A version registered earlier
    from C(runs:/<run_id>/<artifact_path>) or from either of those counts as the same.
  - A run that does not exist, or has no model at O(artifact_path), is refused and nothing is changed.
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
    description: Name of the registered model; created if missing.
    type: str
    required: true
  source:
    description:
      - URI of the model's artifacts, e.g. C(models:/m-0123abcd), C(s3://mlflow/1/abc/artifacts/model) or
        C(runs:/<run_id>/model), registered as it is.
      - One of O(source) and O(run_id) is required.
    type: str
  run_id:
    description:
      - The run that logged the model. Recorded on the version; without O(source), the source is found from the run
        and O(artifact_path).
    type: str
  artifact_path:
    description: Name the run logged the model under (C(log_model(name=...))); only used without O(source).
    type: str
    default: model
  tags:
    description: Tags the version must have; other tags are left alone. Values are stored as strings.
    type: dict
  description:
    description: Description of the version; left alone when not given.
    type: str
  await_ready_s:
    description:
      - Seconds to wait, after creating a version, for it to leave the C(PENDING_REGISTRATION) status. A version
        still pending then is returned as it is, with a warning; a C(FAILED_REGISTRATION) fails the task.
    type: int
    default: 60
"""

EXAMPLES = r"""
- name: Register the model of the training run
  baremetal.mlops.mlflow_model_version:
    tracking_uri: http://mlflow.mlops.svc:5000
    name: fraud-detector
    run_id: "{{ training_run_id }}"
    tags:
      git_commit: "{{ git_commit }}"
  register: fraud_version

- name: Register a model from its artifact URI
  baremetal.mlops.mlflow_model_version:
    name: fraud-detector
    source: s3://mlflow/models/fraud/2026-11-01
    description: Retrained on November data
"""

RETURN = r"""
model_version:
  description:
    - The version after the change; in check mode, the one that would be created (C(version) and C(status) null).
  returned: success
  type: dict
  contains:
    name:
      description: Name of the registered model.
      type: str
      sample: fraud-detector
    version:
      description: The version number.
      type: int
      sample: 3
    source:
      description: The source registered.
      type: str
      sample: models:/m-311c4cda8cc74d39825e3ec28a0cf3d9
    run_id:
      description: The run recorded on the version; null when none.
      type: str
      sample: 70c01dec86b041d2adb39d285755bf2e
    status:
      description: V(READY), V(PENDING_REGISTRATION) or V(FAILED_REGISTRATION).
      type: str
      sample: READY
    tags:
      description: Every tag of the version.
      type: dict
      sample: {git_commit: 4f2a9c1}
    aliases:
      description: Aliases of the registered model that point to this version.
      type: list
      elements: str
      sample: [champion]
    description:
      description: The version's description.
      type: str
    creation_timestamp:
      description: When the version was created, in milliseconds since the epoch.
      type: int
    last_updated_timestamp:
      description: When the version was last changed, in milliseconds since the epoch.
      type: int
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.baremetal.mlops.plugins.module_utils.common.exceptions import MlopsError
from ansible_collections.baremetal.mlops.plugins.module_utils.mlflow import registry
from ansible_collections.baremetal.mlops.plugins.module_utils.mlflow.client import (
    HAS_MLFLOW,
    MLFLOW_IMPORT_ERROR,
    check_timeout,
    connect,
    connection_kwargs,
    mlflow_argspec,
)
from ansible_collections.baremetal.mlops.plugins.module_utils.mlflow.experiment import normalize_tags


def argspec():
    return mlflow_argspec(
        name=dict(type="str", required=True),
        source=dict(type="str"),
        run_id=dict(type="str"),
        artifact_path=dict(type="str", default="model"),
        tags=dict(type="dict"),
        description=dict(type="str"),
        await_ready_s=dict(type="int", default=60),
    )


def main():
    kwargs = connection_kwargs()
    kwargs["required_one_of"] = [("source", "run_id")]
    module = AnsibleModule(argument_spec=argspec(), supports_check_mode=True, **kwargs)
    if not HAS_MLFLOW:
        module.fail_json(msg=missing_required_lib("mlflow"), exception=MLFLOW_IMPORT_ERROR)
    params = module.params
    problem = check_timeout(params["timeout"])
    if problem:
        module.fail_json(msg=problem)
    name = params["name"]
    try:
        conn = connect(params)
        model = registry.get_registered_model(conn, name)
        if params["source"]:
            found = dict(source=params["source"], model_id=None, sources=[params["source"]])
        else:
            found = registry.resolve_run_source(conn, params["run_id"], params["artifact_path"])
        versions = []
        if model is not None:
            versions = [registry.version_view(mv, model.aliases) for mv in registry.list_versions(conn, name)]
        before = registry.find_version(versions, found["sources"], params["run_id"])
        if before is not None:
            plan = registry.plan_version_update(before, params["tags"], params["description"])
            after = plan["after"]
            if plan["actions"] and not module.check_mode:
                registry.update_version(conn, name, before["version"], plan["actions"])
                after = registry.version_view(registry.await_ready(conn, name, before["version"], 0))
        elif module.check_mode:
            after = dict(name=name, version=None, source=found["source"], run_id=params["run_id"], status=None,
                         tags=normalize_tags(params["tags"]), aliases=[], description=params["description"] or "",
                         creation_timestamp=None, last_updated_timestamp=None)
        else:
            number = registry.create_version(conn, name, found["source"], run_id=params["run_id"],
                                             tags=params["tags"], description=params["description"],
                                             model_id=found["model_id"])
            after = registry.version_view(registry.await_ready(conn, name, number, params["await_ready_s"]))
            if after["status"] == registry.PENDING:
                module.warn("model '%s' version %d is still %s after %d s" % (
                    name, number, registry.PENDING, params["await_ready_s"]))
    except MlopsError as exc:
        module.fail_json(**exc.fail_kwargs())
    result = dict(changed=before != after, model_version=after)
    if module._diff:
        result["diff"] = dict(before=before or {}, after=after)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
