#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: mlflow_model_info
short_description: Read a registered model of the MLflow model registry, its versions and aliases
version_added: 0.1.0
description:
  - Returns the registered model O(name), its newest versions, and the version each of its aliases points to.
  - A model that does not exist is not an error; RV(exists) is false then. An alias of O(aliases) that the model
    does not have is listed in RV(missing_aliases), not an error either.
  - Reads only; changes nothing.
author:
  - baremetal.mlops contributors (@baremetal-mlops)
requirements:
  - mlflow
extends_documentation_fragment:
  - baremetal.mlops.attributes
  - baremetal.mlops.attributes.info
  - baremetal.mlops.mlflow
  - baremetal.mlops.attributes.actiongroup_mlflow
options:
  name:
    description: Name of the registered model.
    type: str
    required: true
  aliases:
    description:
      - Aliases to resolve into RV(alias_versions). By default, every alias the model has.
    type: list
    elements: str
  limit:
    description: Most versions returned in RV(versions), newest first; V(0) for all.
    type: int
    default: 20
  check_integrity:
    description:
      - Also check that each version of RV(alias_versions) can be loaded the way a model server loads it, into
        its C(integrity) - its run exists and is not deleted, its files are at MLflow's download URI of the
        version (read through the artifact repository, the tracking server's proxy where it is one), an
        C(MLmodel) file is among them, and every file its flavors name is there.
      - Such problems (deleted artifacts, a bucket that does not exist, a deleted run) are returned, not raised.
    type: bool
    default: false
  predict_inputs:
    description:
      - Probe inputs, a list of rows (lists of numbers, or dicts of column values for models with named
        inputs). Each version of RV(alias_versions) and the newest READY version below it (the one it most likely
        replaced) are loaded as MLflow pyfunc models from their files (downloaded through the artifact
        repository, as a model server loads them) and predict these rows, into its C(probe).
      - This is what lets a caller compare a model server's answers with the champion's by evidence, and tell
        whether the probe can tell the champion from its predecessor at all.
      - The model's flavor (for example scikit-learn) must be importable on the host that runs the module.
    type: list
    elements: raw
"""

EXAMPLES = r"""
- name: Read the fraud detector's champion and challenger
  baremetal.mlops.mlflow_model_info:
    tracking_uri: http://mlflow.mlops.svc:5000
    name: fraud-detector
    aliases: [champion, challenger]
  register: fraud_model

- name: Serve the champion
  ansible.builtin.debug:
    msg: "champion is version {{ fraud_model.alias_versions.champion.version }} from {{ fraud_model.alias_versions.champion.source }}"
  when: "'champion' in fraud_model.alias_versions"
"""

RETURN = r"""
exists:
  description: Whether the registered model exists.
  returned: always
  type: bool
  sample: true
registered_model:
  description: The registered model; null when it does not exist.
  returned: always
  type: dict
  contains:
    name:
      description: Its name.
      type: str
      sample: fraud-detector
    description:
      description: Its description.
      type: str
    tags:
      description: Its tags.
      type: dict
    aliases:
      description: Every alias of the model and the version it points to.
      type: dict
      sample: {champion: 4, challenger: 5}
versions:
  description:
    - The newest versions of the model (at most O(limit)), newest first; empty when the model does not exist.
    - Each has the keys of RV(baremetal.mlops.mlflow_model_version#module:model_version).
  returned: always
  type: list
  elements: dict
  sample:
    - name: fraud-detector
      version: 5
      source: models:/m-311c4cda8cc74d39825e3ec28a0cf3d9
      run_id: 70c01dec86b041d2adb39d285755bf2e
      status: READY
      tags: {}
      aliases: [challenger]
      description: ""
      creation_timestamp: 1795456677790
      last_updated_timestamp: 1795456677790
alias_versions:
  description: For each alias asked for (or each alias of the model) that exists, the version it points to, with
    the same keys as the entries of RV(versions); with O(check_integrity), also C(integrity) - C(ok), C(problems)
    (each a sentence), C(run_id), C(run_status), C(run_lifecycle_stage), C(download_uri), C(files) (the names at
    the download URI) and C(flavors) (of its MLmodel); with O(predict_inputs), also C(probe) - C(version),
    C(predictions), C(previous_version) (null when there is none), C(previous_predictions) and C(error) (why a
    version could not load or predict; null when both did).
  returned: always
  type: dict
  sample: {champion: {name: fraud-detector, version: 4, source: "models:/m-0a1b2c", run_id: 0a1b2c, status: READY}}
missing_aliases:
  description: The aliases of O(aliases) that the model does not have (all of them when it does not exist).
  returned: always
  type: list
  elements: str
  sample: [challenger]
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


def argspec():
    return mlflow_argspec(
        name=dict(type="str", required=True),
        aliases=dict(type="list", elements="str"),
        limit=dict(type="int", default=20),
        check_integrity=dict(type="bool", default=False),
        predict_inputs=dict(type="list", elements="raw"),
    )


def main():
    module = AnsibleModule(argument_spec=argspec(), supports_check_mode=True, **connection_kwargs())
    if not HAS_MLFLOW:
        module.fail_json(msg=missing_required_lib("mlflow"), exception=MLFLOW_IMPORT_ERROR)
    params = module.params
    problem = check_timeout(params["timeout"])
    if problem:
        module.fail_json(msg=problem)
    if params["limit"] < 0:
        module.fail_json(msg="limit: %d is not a number of versions >= 0" % params["limit"])
    rows = params["predict_inputs"]
    if rows is not None and (not rows or not all(isinstance(r, (list, dict)) for r in rows)):
        module.fail_json(msg="predict_inputs: give a non-empty list of rows, each a list of values or a dict of "
                             "column values")
    name = params["name"]
    try:
        conn = connect(params)
        model = registry.registered_model_view(registry.get_registered_model(conn, name))
        versions = []
        alias_versions = {}
        wanted = params["aliases"]
        if model is not None:
            aliases = model["aliases"]
            versions = [registry.version_view(mv, aliases)
                        for mv in registry.list_versions(conn, name, limit=params["limit"] or None)]
            by_number = dict((v["version"], v) for v in versions)
            for alias in sorted(aliases) if wanted is None else wanted:
                number = aliases.get(alias)
                if number is None:
                    continue
                if number not in by_number:
                    mv = conn.call("read model '%s' version %d" % (name, number), "get_model_version", name,
                                   str(number))
                    by_number[number] = registry.version_view(mv, aliases)
                alias_versions[alias] = by_number[number]
            if params["check_integrity"]:
                checked = {}
                for alias, view in alias_versions.items():
                    if view["version"] not in checked:
                        checked[view["version"]] = registry.version_integrity(conn, name, view)
                    alias_versions[alias] = dict(view, integrity=checked[view["version"]])
            if params["predict_inputs"] is not None:
                probed = {}
                for alias, view in alias_versions.items():
                    if view["version"] not in probed:
                        previous = registry.previous_version(list(by_number.values()), view["version"])
                        probed[view["version"]] = registry.probe_predictions(conn, name, view, previous,
                                                                             params["predict_inputs"])
                    alias_versions[alias] = dict(alias_versions[alias], probe=probed[view["version"]])
    except MlopsError as exc:
        module.fail_json(**exc.fail_kwargs())
    missing = [alias for alias in (wanted or []) if alias not in alias_versions]
    module.exit_json(changed=False, exists=model is not None, registered_model=model, versions=versions,
                     alias_versions=alias_versions, missing_aliases=missing)


if __name__ == "__main__":
    main()
