# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Talk to a model endpoint with KServe's V1 or V2 (Open Inference) REST protocol.

:class:`Endpoint` makes every request with a timeout and raises
:class:`KServeError` naming the URL and the cause; :func:`compare` is the pure
comparison of a prediction with an expected result.
"""

from __future__ import annotations

import json
import math
import socket
import time
import uuid

from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.urls import open_url

from ansible_collections.baremetal.mlops.plugins.module_utils.common.exceptions import MlopsError

PROTOCOLS = ("v1", "v2")


class KServeError(MlopsError):
    """A request to the model endpoint failed; ``kind`` is unreachable, timeout, http or protocol."""

    def __init__(self, msg, kind, url, **kwargs):
        self.kind = kind
        details = dict(kwargs.pop("details", None) or {})
        details.update(kind=kind, url=url)
        kwargs.setdefault("component", "kserve")
        super().__init__(msg, host=url, details=details, **kwargs)


class Endpoint:
    """One model behind a KServe predictor (or any server speaking its protocols)."""

    def __init__(self, url, model, protocol="v2", timeout=5.0, host_header=None, token=None,
                 validate_certs=True, ca_path=None, clock=time.monotonic):
        if protocol not in PROTOCOLS:
            raise ValueError("protocol must be one of %s" % ", ".join(PROTOCOLS))
        self.url = url.rstrip("/")
        self.model = model
        self.protocol = protocol
        self.timeout = timeout
        self.headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if host_header:
            self.headers["Host"] = host_header
        if token:
            self.headers["Authorization"] = "Bearer %s" % token
        self.validate_certs = validate_certs
        self.ca_path = ca_path
        self.clock = clock
        self.latency_ms = {}

    def request(self, method, path, body=None, accept=(200,)):
        """(status, decoded JSON or None) of one request; raises KServeError unless status in ``accept``."""
        url = self.url + path
        data = json.dumps(body).encode() if body is not None else None
        start = self.clock()
        try:
            resp = open_url(url, data=data, method=method, headers=self.headers, timeout=self.timeout,
                            validate_certs=self.validate_certs, ca_path=self.ca_path, follow_redirects="none")
            status, raw = resp.getcode(), resp.read()
        except HTTPError as exc:
            status, raw = exc.code, exc.read() if hasattr(exc, "read") else b""
        except (socket.timeout, TimeoutError) as exc:
            raise KServeError("%s %s timed out after %s s (%s)" % (method, url, self.timeout, exc), "timeout", self.url,
                              hint="check that the predictor pods are Ready and not overloaded, and the timeout")
        except (URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            kind = "timeout" if isinstance(reason, (socket.timeout, TimeoutError)) else "unreachable"
            raise KServeError("cannot reach %s %s: %s" % (method, url, reason), kind, self.url,
                              hint="check the endpoint URL (ingress host and port) and, behind an ingress, "
                                   "the Host header of the InferenceService")
        finally:
            self.latency_ms[path] = round((self.clock() - start) * 1000, 1)
        decoded = None
        if raw:
            try:
                decoded = json.loads(raw)
            except ValueError:
                decoded = {"raw": raw[:300].decode("utf-8", "replace")}
        if status not in accept:
            raise KServeError("%s %s answered HTTP %s: %s" % (method, url, status, _short(decoded)), "http",
                              self.url, hint=_hint_for(status), details={"status": status})
        return status, decoded

    # -- readiness and metadata

    def state(self):
        """dict(live, ready, metadata) of the model."""
        if self.protocol == "v1":
            status, body = self.request("GET", "/v1/models/%s" % self.model, accept=(200, 404, 503))
            ready = status == 200 and bool((body or {}).get("ready"))
            return {"live": status in (200, 503), "ready": ready, "metadata": body if status == 200 else None,
                    "status": status}
        status, body = self.request("GET", "/v2/health/live", accept=(200, 503))
        live = status == 200 and (body is None or body.get("live", True) is not False)
        status, body = self.request("GET", "/v2/models/%s/ready" % self.model, accept=(200, 400, 404, 503))
        ready = status == 200 and (body is None or body.get("ready", True) is not False)
        metadata = None
        if status != 404:
            mstatus, mbody = self.request("GET", "/v2/models/%s" % self.model, accept=(200, 400, 404, 503))
            metadata = mbody if mstatus == 200 else None
        return {"live": live, "ready": ready, "metadata": metadata, "status": status}

    # -- prediction

    def predict(self, body):
        """(prediction, served_version, raw response) for one request body."""
        if self.protocol == "v1":
            if "instances" not in body and "inputs" not in body:
                raise KServeError("a V1 request needs 'instances' (or 'inputs')", "protocol", self.url,
                                  hint="give predict: {instances: [[...]]}")
            status, resp = self.request("POST", "/v1/models/%s:predict" % self.model, body)
            if not isinstance(resp, dict) or "predictions" not in resp:
                raise KServeError("V1 predict answered without 'predictions': %s" % _short(resp), "protocol",
                                  self.url, hint="check that the endpoint speaks the V1 protocol")
            return resp["predictions"], resp.get("model_version"), resp
        body = dict(body)
        # KServe answers 500 to a V2 request without an id unless the model sets one.
        body.setdefault("id", str(uuid.uuid4()))
        if "inputs" not in body:
            raise KServeError("a V2 request needs 'inputs'", "protocol", self.url,
                              hint="give predict: {inputs: [{name, shape, datatype, data}]}")
        status, resp = self.request("POST", "/v2/models/%s/infer" % self.model, body)
        if not isinstance(resp, dict) or "outputs" not in resp:
            raise KServeError("V2 infer answered without 'outputs': %s" % _short(resp), "protocol", self.url,
                              hint="check that the endpoint speaks the V2 (Open Inference) protocol")
        outputs = {out.get("name"): out.get("data") for out in resp["outputs"]}
        return outputs, resp.get("model_version"), resp


def served_version(metadata, response_version):
    """The model version the server says it serves: the response's, else the newest in V2 metadata."""
    if response_version not in (None, ""):
        return str(response_version)
    versions = (metadata or {}).get("versions") or []
    return str(versions[-1]) if versions else None


def compare(actual, expected, tolerance=1e-6, path="$"):
    """The first difference between ``actual`` and ``expected`` as a sentence, or None if they match.

    Numbers match within ``tolerance`` (absolute or relative); V2 outputs
    (a dict name -> data) match an expected list against their only output.
    """
    if isinstance(actual, dict) and isinstance(expected, list) and len(actual) == 1:
        actual = next(iter(actual.values()))
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return "%s: expected an object, got %s" % (path, _short(actual))
        for key in expected:
            if key not in actual:
                return "%s: output %r missing (got %s)" % (path, key, ", ".join(sorted(map(str, actual))))
            diff = compare(actual[key], expected[key], tolerance, "%s.%s" % (path, key))
            if diff:
                return diff
        return None
    if isinstance(expected, (list, tuple)):
        if not isinstance(actual, (list, tuple)):
            return "%s: expected a list, got %s" % (path, _short(actual))
        if len(actual) != len(expected):
            return "%s: expected %d values, got %d" % (path, len(expected), len(actual))
        for index, (got, want) in enumerate(zip(actual, expected)):
            diff = compare(got, want, tolerance, "%s[%d]" % (path, index))
            if diff:
                return diff
        return None
    if isinstance(expected, bool) or isinstance(actual, bool):
        return None if actual == expected else "%s: expected %r, got %r" % (path, expected, actual)
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        if math.isclose(actual, expected, rel_tol=tolerance, abs_tol=tolerance):
            return None
        return "%s: expected %r, got %r" % (path, expected, actual)
    return None if actual == expected else "%s: expected %r, got %r" % (path, expected, actual)


def _short(value, limit=200):
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[:limit] + "..."


def _hint_for(status):
    if status in (401, 403):
        return "give a valid token (or the mesh's auth) for the InferenceService"
    if status == 404:
        return "check the model name and the protocol (v1/v2) of the predictor"
    if status in (502, 503, 504):
        return "the predictor is not serving: check its pods and the InferenceService's Ready condition"
    if status == 400 or status == 422:
        return "the request body does not fit the model's inputs: check the probe request"
    return "see the predictor's log"
