#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: mlflow_probe
short_description: Check that MLflow tracking and its artifact store work, step by step
version_added: 0.1.0
description:
  - The verify check "MLflow tracking and artifact store work". In the experiment O(experiment) (created, or
    restored, if needed) it starts a run, logs a param, a metric and a small text artifact, reads each back (the
    param and the metric from the run, the artifact by downloading it and comparing its bytes), then deletes the
    run and the artifact.
  - Every step is reported in RV(steps) with the component it tests, C(mlflow tracking) or C(mlflow artifact store).
    A failing step does not fail the task; RV(ok) and RV(failed_component) say what failed, so that a play can
    report all problems at once. When the artifact store behind a proxying MLflow server is down, C(params) and
    C(metrics) pass and C(artifact_write) fails, after about O(timeout) seconds.
  - The task fails only for bad arguments or when the tracking server cannot be reached at all (no connection, or
    no answer within O(timeout)); the message names the tracking URI.
  - Reports C(changed=false) - it removes what it wrote. The run is deleted the way the MLflow UI deletes runs
    (until C(mlflow gc), the server keeps it in the C(deleted) lifecycle stage); the experiment stays.
author:
  - baremetal.mlops contributors (@baremetal-mlops)
requirements:
  - mlflow
extends_documentation_fragment:
  - baremetal.mlops.attributes
  - baremetal.mlops.attributes.info
  - baremetal.mlops.mlflow
  - baremetal.mlops.attributes.actiongroup_mlflow
attributes:
  check_mode:
    support: full
    details:
      - In check mode the module only checks that the tracking server answers (it searches experiments) and reports
        every other step as skipped; it writes nothing.
options:
  experiment:
    description: The experiment the probe's run goes to; created if missing.
    type: str
    default: baremetal-mlops-verify
"""

EXAMPLES = r"""
- name: Check MLflow tracking and its artifact store
  baremetal.mlops.mlflow_probe:
    tracking_uri: http://mlflow.mlops.svc:5000
    timeout: 10
  register: mlflow_probe

- name: Report what does not work
  ansible.builtin.assert:
    that: mlflow_probe.ok
    fail_msg: >-
      {{ mlflow_probe.failed_component }} fails:
      {{ mlflow_probe.steps | rejectattr('ok') | rejectattr('skipped') | map(attribute='error') | join('; ') }}
"""

RETURN = r"""
ok:
  description: True when every step that ran passed (in check mode, only C(tracking) runs).
  returned: success
  type: bool
  sample: false
failed_component:
  description: Component of the first step that failed; null when none failed.
  returned: success
  type: str
  sample: mlflow artifact store
run_id:
  description: The run the probe created (and deleted); null when none was created.
  returned: success
  type: str
  sample: 70c01dec86b041d2adb39d285755bf2e
experiment_id:
  description: Id of O(experiment); null when it was not reached (or in check mode).
  returned: success
  type: str
  sample: "4"
steps:
  description:
    - Every step in order - C(tracking) (start a run), C(params), C(metrics), C(artifact_write), C(artifact_read),
      C(cleanup).
    - A step that could not run because one it needs failed, or that check mode skips, has C(skipped=true) and
      C(ok=false).
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: The step.
      type: str
      sample: artifact_write
    ok:
      description: Whether the step ran and passed.
      type: bool
    skipped:
      description: Whether the step was not run.
      type: bool
    component:
      description: V(mlflow tracking) or V(mlflow artifact store).
      type: str
      sample: mlflow artifact store
    error:
      description: What failed, with the tracking URI and the fix; null when the step passed.
      type: str
    elapsed_ms:
      description: How long the step took, in milliseconds.
      type: int
      sample: 42
  sample:
    - {name: tracking, ok: true, skipped: false, component: mlflow tracking, error: null, elapsed_ms: 61}
    - {name: params, ok: true, skipped: false, component: mlflow tracking, error: null, elapsed_ms: 25}
    - {name: metrics, ok: true, skipped: false, component: mlflow tracking, error: null, elapsed_ms: 22}
    - {name: artifact_write, ok: false, skipped: false, component: mlflow artifact store, elapsed_ms: 3012,
       error: "http://mlflow:5000 mlflow artifact store: write artifact ... (HTTP 500)"}
    - {name: artifact_read, ok: false, skipped: true, component: mlflow artifact store, elapsed_ms: 0,
       error: "not run: step artifact_write failed"}
    - {name: cleanup, ok: true, skipped: false, component: mlflow tracking, error: null, elapsed_ms: 18}
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.baremetal.mlops.plugins.module_utils.common.exceptions import MlopsError
from ansible_collections.baremetal.mlops.plugins.module_utils.mlflow.client import (
    HAS_MLFLOW,
    MLFLOW_IMPORT_ERROR,
    check_timeout,
    connect,
    connection_kwargs,
    mlflow_argspec,
)
from ansible_collections.baremetal.mlops.plugins.module_utils.mlflow.probe import Probe


def argspec():
    return mlflow_argspec(
        experiment=dict(type="str", default="baremetal-mlops-verify"),
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
        probe = Probe(connect(params), params["experiment"])
        result = probe.check() if module.check_mode else probe.probe()
    except MlopsError as exc:
        module.fail_json(**exc.fail_kwargs())
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
