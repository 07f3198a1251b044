#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: s3_probe
short_description: Prove an S3 object store works - write an object, read it back, delete it, in bounded time
version_added: 0.1.0
description:
  - Writes a small random object under O(key_prefix) in O(bucket), reads it back and compares its SHA-256, then
    deletes it. Requests are signed with SigV4 and use path-style addressing, as MinIO and SeaweedFS expect.
  - Every request gives up after O(timeout) seconds and is not retried, so a wrong or dead endpoint fails in
    seconds, with the endpoint and the cause in the message (boto3 alone waits 60 s per attempt and retries).
  - Fails naming the endpoint, the bucket and the cause - unreachable, timeout, TLS, authentication (wrong keys),
    missing bucket, or data read back that differs from what was written. The return value C(kind) classifies it.
  - Used by C(verify.yml). It leaves nothing behind, so it reports C(changed=false).
  - amazon.aws.s3_object can do a put and a get, but not with per-request timeouts without retries and an
    error classified for the verify report; this module exists for that.
author:
  - baremetal.mlops contributors (@baremetal-mlops)
extends_documentation_fragment:
  - baremetal.mlops.attributes
attributes:
  check_mode:
    support: partial
    details: In check mode only the bucket is checked (C(HeadBucket)); nothing is written.
  diff_mode:
    support: none
    details: The module leaves nothing changed, so there is no diff.
options:
  endpoint_url:
    description:
      - URL of the S3 API, for example V(http://seaweedfs-s3.storage.svc:8333) or V(https://minio.example.com).
      - If not set, the environment variable E(MLOPS_S3_ENDPOINT_URL) is used.
    type: str
    required: true
  access_key:
    description: S3 access key ID. If not set, E(MLOPS_S3_ACCESS_KEY) is used.
    type: str
    required: true
  secret_key:
    description: S3 secret access key. If not set, E(MLOPS_S3_SECRET_KEY) is used.
    type: str
    required: true
  region:
    description: Region the requests are signed for. If not set, E(MLOPS_S3_REGION) is used.
    type: str
    default: us-east-1
  bucket:
    description: Bucket to write the probe object into. If not set, E(MLOPS_S3_BUCKET) is used.
    type: str
    required: true
  key_prefix:
    description: Prefix of the probe object's key; a random name follows it.
    type: str
    default: baremetal-mlops-verify/
  payload_size:
    description: Size of the probe object in bytes.
    type: int
    default: 1024
  timeout:
    description: Seconds each request may take (connect, and then read) before the probe fails.
    type: float
    default: 5
  validate_certs:
    description: Verify the endpoint's TLS certificate.
    type: bool
    default: true
  ca_bundle:
    description: CA bundle file to verify the endpoint's certificate with.
    type: path
requirements:
  - boto3
seealso:
  - module: amazon.aws.s3_object
"""

EXAMPLES = r"""
- name: Write, read back and delete an object in the artifact bucket
  baremetal.mlops.s3_probe:
    endpoint_url: http://seaweedfs-s3.storage.svc:8333
    access_key: "{{ vault_s3_access_key }}"
    secret_key: "{{ vault_s3_secret_key }}"
    bucket: mlflow
    timeout: 5
  register: s3_probe

- name: Same, endpoint and keys from MLOPS_S3_* environment variables
  baremetal.mlops.s3_probe:
    bucket: mlflow
"""

RETURN = r"""
endpoint:
  description: The endpoint probed.
  returned: always
  type: str
  sample: http://127.0.0.1:18333
bucket:
  description: The bucket probed.
  returned: always
  type: str
  sample: mlflow
key:
  description: Key of the probe object (deleted again).
  returned: success, not in check mode
  type: str
  sample: baremetal-mlops-verify/3f0c1d2e4b5a46978899aabbccddeeff
steps:
  description: Each request made, in order, with whether it succeeded and how long it took.
  returned: always
  type: list
  elements: dict
  sample: [{name: head_bucket, ok: true, elapsed_ms: 4.1}, {name: put_object, ok: true, elapsed_ms: 9.8}]
kind:
  description:
    - Why the probe failed - V(unreachable), V(timeout), V(tls), V(auth), V(no_bucket), V(not_s3) (something else answered), V(mismatch) or V(error).
  returned: failure
  type: str
  sample: auth
failed_step:
  description: The step that failed.
  returned: failure
  type: str
  sample: put_object
elapsed_s:
  description: Seconds the whole probe took.
  returned: always
  type: float
  sample: 0.03
"""

import time
import traceback

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

from ansible_collections.baremetal.mlops.plugins.module_utils.s3 import probe
from ansible_collections.baremetal.mlops.plugins.module_utils.common.exceptions import MlopsError


def argspec():
    return dict(
        endpoint_url=dict(type="str", required=True, fallback=(env_fallback, ["MLOPS_S3_ENDPOINT_URL"])),
        access_key=dict(type="str", required=True, no_log=True, fallback=(env_fallback, ["MLOPS_S3_ACCESS_KEY"])),
        secret_key=dict(type="str", required=True, no_log=True, fallback=(env_fallback, ["MLOPS_S3_SECRET_KEY"])),
        region=dict(type="str", default="us-east-1", fallback=(env_fallback, ["MLOPS_S3_REGION"])),
        bucket=dict(type="str", required=True, fallback=(env_fallback, ["MLOPS_S3_BUCKET"])),
        key_prefix=dict(type="str", default="baremetal-mlops-verify/", no_log=False),
        payload_size=dict(type="int", default=1024),
        timeout=dict(type="float", default=5),
        validate_certs=dict(type="bool", default=True),
        ca_bundle=dict(type="path"),
    )


def main():
    module = AnsibleModule(argument_spec=argspec(), supports_check_mode=True)
    params = module.params
    if not probe.HAS_BOTO3:
        module.fail_json(msg=missing_required_lib("boto3"), exception=traceback.format_exc())
    endpoint = params["endpoint_url"]
    if not endpoint.startswith(("http://", "https://")):
        module.fail_json(msg="endpoint_url %r: give a URL with http:// or https://" % endpoint)
    if params["timeout"] <= 0 or params["payload_size"] <= 0:
        module.fail_json(msg="timeout and payload_size must be greater than 0")
    verify = params["ca_bundle"] if params["ca_bundle"] else params["validate_certs"]
    result = dict(changed=False, endpoint=endpoint, bucket=params["bucket"], steps=[])
    start = time.monotonic()
    try:
        client = probe.make_client(endpoint, params["access_key"], params["secret_key"], params["region"],
                                   params["timeout"], verify=verify)
        if module.check_mode:
            result["steps"] = probe.head_only(client, endpoint, params["bucket"])
        else:
            result.update(probe.round_trip(client, endpoint, params["bucket"], params["key_prefix"],
                                           payload_size=params["payload_size"]))
    except MlopsError as exc:
        result["elapsed_s"] = round(time.monotonic() - start, 3)
        kwargs = exc.fail_kwargs()
        result["steps"] = kwargs.pop("steps", result["steps"])
        result.update(kwargs)
        module.fail_json(**result)
    result["elapsed_s"] = round(time.monotonic() - start, 3)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
