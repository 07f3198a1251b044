#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: kserve_endpoint_info
short_description: Readiness, metadata and a checked prediction of a KServe model endpoint (V1 or V2 protocol)
version_added: 0.1.0
description:
  - Asks a model endpoint whether it is live and ready and for its metadata, with KServe's V1 protocol
    (C(/v1/models/NAME)) or the V2 Open Inference protocol (C(/v2/health/live), C(/v2/models/NAME/ready),
    C(/v2/models/NAME)).
  - With O(predict), sends one prediction request and returns the prediction; with O(expected) as well, compares them
    (numbers within O(tolerance)) and returns whether they match and the first difference.
  - Returns the model version the server says it serves - the V2 response's C(model_version), else the last of the
    V2 metadata's C(versions). KServe's own model servers leave both empty (C(served_version=null)); MLServer fills them
    from the model settings' C(version).
  - Identity before behaviour - returns which model each reply names (V2 - the metadata's C(name), the ready reply's
    C(name), the inference response's C(model_name); V1 - the status reply's C(name)) and every reason they do not prove
    the endpoint is O(model) (another model's name, a version the metadata does not list, HTTP 404 for the model). With
    an identity problem no prediction is made.
  - A reply that lacks a field the checks rely on (the metadata's C(name), C(model_name) or C(outputs) of a V2 response, a
    JSON health reply without C(live) or C(ready), a V1 status without C(name) and C(ready)) fails the module as a
    protocol error. Health replies with an empty body are judged by their HTTP status, as the V2 protocol allows.
  - A model that is not ready, a model the server does not know, an identity problem or a prediction that does not
    match does not fail the module - C(verify.yml) judges the result. An endpoint that cannot be reached, times out or
    answers an HTTP error fails it, naming the URL and the cause.
  - Every request gives up after O(timeout) seconds.
author:
  - baremetal.mlops contributors (@baremetal-mlops)
extends_documentation_fragment:
  - baremetal.mlops.attributes
  - baremetal.mlops.attributes.info
notes:
  - A prediction request is a POST, but model servers keep no state from it; the module treats it as a read.
options:
  url:
    description:
      - Base URL of the predictor, for example V(http://sklearn-iris.models.example.com) or, behind an ingress
        gateway, the gateway URL with O(host_header).
      - If not set, E(MLOPS_KSERVE_URL) is used.
    type: str
    required: true
  model:
    description: Model name as the server knows it (for an InferenceService, its name).
    type: str
    required: true
  protocol:
    description: Inference protocol of the predictor.
    type: str
    choices: [v1, v2]
    default: v2
  host_header:
    description:
      - C(Host) header to send, for an InferenceService reached through an ingress gateway by IP
        (for example V(sklearn-iris.models.example.com)).
    type: str
  token:
    description: Bearer token, if the endpoint needs one. If not set, E(MLOPS_KSERVE_TOKEN) is used.
    type: str
  predict:
    description:
      - 'Body of a prediction request - for V1 V({"instances": [[...]]}), for V2
        V({"inputs": [{"name": ..., "shape": [...], "datatype": "FP64", "data": [...]}]}) (an C(id) is added if missing).'
    type: dict
  expected:
    description:
      - Expected prediction - for V1 the C(predictions) list; for V2 a dict of output name to data, or a list when the
        model has one output.
    type: raw
  tolerance:
    description: Absolute or relative tolerance when comparing numbers.
    type: float
    default: 0.000001
  timeout:
    description: Seconds each request may take.
    type: float
    default: 5
  validate_certs:
    description: Verify the endpoint's TLS certificate.
    type: bool
    default: true
  ca_path:
    description: CA bundle to verify the endpoint's certificate with.
    type: path
seealso:
  - name: KServe V1 protocol
    description: Predict and model readiness API of KServe's V1 protocol.
    link: https://kserve.github.io/website/docs/concepts/architecture/data-plane/v1-protocol
  - name: Open Inference Protocol (V2)
    description: Health, metadata and inference API.
    link: https://kserve.github.io/website/docs/concepts/architecture/data-plane/v2-protocol
"""

EXAMPLES = r"""
- name: Check an InferenceService through the ingress gateway and compare a prediction
  baremetal.mlops.kserve_endpoint_info:
    url: http://10.0.0.50
    host_header: fraud-model.models.example.com
    model: fraud-model
    protocol: v2
    predict:
      inputs:
        - {name: input-0, shape: [1, 4], datatype: FP64, data: [[6.8, 2.8, 4.8, 1.4]]}
    expected: [1]
  register: fraud_model

- name: V1 readiness only
  baremetal.mlops.kserve_endpoint_info:
    url: http://sklearn-iris.models.example.com
    model: sklearn-iris
    protocol: v1
"""

RETURN = r"""
live:
  description: Whether the server answers as live (V1 - it answered the model's status).
  returned: always
  type: bool
  sample: true
ready:
  description: Whether the model is ready to serve.
  returned: always
  type: bool
  sample: true
metadata:
  description: The model's metadata (V2) or status (V1) as the server returned it; null if it has none.
  returned: always
  type: dict
  sample: {name: fraud-model, platform: "", inputs: [], outputs: []}
served_version:
  description: Model version the server reports serving, or null if it does not report one.
  returned: always
  type: str
  sample: "3"
prediction:
  description: The prediction - V1 the C(predictions) list, V2 a dict of output name to data. Null without O(predict).
  returned: always
  type: raw
  sample: {output-0: [1]}
matches:
  description: Whether the prediction matches O(expected); null without O(expected) or when the model is not ready.
  returned: always
  type: bool
  sample: true
mismatch:
  description: The first difference between prediction and O(expected), or null.
  returned: always
  type: str
  sample: "$[0]: expected 1, got 2"
identity:
  description: Which model the replies name, and why they do not prove it is O(model).
  returned: always
  type: dict
  contains:
    names:
      description: The model name each reply gave, by reply (V(status), V(metadata), V(ready), V(response)).
      type: dict
      sample: {metadata: fraud-model, ready: fraud-model, response: fraud-model}
    versions:
      description: Versions the V2 metadata lists.
      type: list
      elements: str
    problems:
      description: Every reason the replies do not prove the endpoint serves O(model); empty when they do.
      type: list
      elements: str
      sample: ["the metadata reply names model 'other-model', not 'fraud-model'"]
    hint:
      description: How to fix the first problem, or null.
      type: str
    unavailable:
      description: Why no reply could name the model (for example the metadata answered HTTP 503 while it loads).
      type: str
latency_ms:
  description: Milliseconds each request took, by path.
  returned: always
  type: dict
  sample: {/v2/models/fraud-model/infer: 3.2}
"""

import traceback

from ansible.module_utils.basic import AnsibleModule, env_fallback

from ansible_collections.baremetal.mlops.plugins.module_utils.common.exceptions import MlopsError
from ansible_collections.baremetal.mlops.plugins.module_utils.kserve.endpoint import Endpoint, compare, served_version


def argspec():
    return dict(
        url=dict(type="str", required=True, fallback=(env_fallback, ["MLOPS_KSERVE_URL"])),
        model=dict(type="str", required=True),
        protocol=dict(type="str", choices=["v1", "v2"], default="v2"),
        host_header=dict(type="str"),
        token=dict(type="str", no_log=True, fallback=(env_fallback, ["MLOPS_KSERVE_TOKEN"])),
        predict=dict(type="dict"),
        expected=dict(type="raw"),
        tolerance=dict(type="float", default=0.000001),
        timeout=dict(type="float", default=5),
        validate_certs=dict(type="bool", default=True),
        ca_path=dict(type="path"),
    )


def main():
    module = AnsibleModule(argument_spec=argspec(), supports_check_mode=True)
    params = module.params
    if not params["url"].startswith(("http://", "https://")):
        module.fail_json(msg="url %r: give a URL with http:// or https://" % params["url"])
    if params["timeout"] <= 0:
        module.fail_json(msg="timeout must be greater than 0")
    if params["expected"] is not None and params["predict"] is None:
        module.fail_json(msg="expected needs predict: give the request whose prediction to compare")
    endpoint = Endpoint(params["url"], params["model"], protocol=params["protocol"], timeout=params["timeout"],
                        host_header=params["host_header"], token=params["token"],
                        validate_certs=params["validate_certs"], ca_path=params["ca_path"])
    result = dict(changed=False, live=False, ready=False, metadata=None, served_version=None, prediction=None,
                  matches=None, mismatch=None, identity=None, latency_ms=endpoint.latency_ms)
    try:
        state = endpoint.state()
        identity = state["identity"]
        result.update(live=state["live"], ready=state["ready"], metadata=state["metadata"], identity=identity)
        response_version = None
        if params["predict"] is not None and state["ready"] and not identity["problems"]:
            prediction, response_version, _raw = endpoint.predict(params["predict"], identity=identity)
            result["prediction"] = prediction
            if params["expected"] is not None:
                result["mismatch"] = compare(prediction, params["expected"], params["tolerance"])
                result["matches"] = result["mismatch"] is None
        result["served_version"] = served_version(state["metadata"], response_version)
    except MlopsError as exc:
        result.update(exc.fail_kwargs())
        module.fail_json(**result)
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg="%s kserve: unexpected error: %s" % (params["url"], exc), exception=traceback.format_exc())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
