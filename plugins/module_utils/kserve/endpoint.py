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

    # -- identity, readiness and metadata

    def state(self):
        """dict(live, ready, metadata, status, identity) of the model.

        ``identity`` is ``{names, versions, problems, hint}``: the model name
        each reply gave (``status`` for V1, ``metadata`` and ``ready`` for V2;
        :meth:`predict` adds ``response``), the versions the metadata lists,
        and every reason the replies do not prove they come from
        ``self.model`` (``unavailable`` says why no reply could name it). A reply that lacks
        a field the checks rely on raises :class:`KServeError` (``protocol``).
        """
        identity = {"names": {}, "versions": [], "problems": [], "hint": None}
        if self.protocol == "v1":
            path = "/v1/models/%s" % self.model
            status, body = self.request("GET", path, accept=(200, 404, 503))
            if status == 404:
                self._unknown_model(identity, path, body)
            if status != 200:  # 503: known but not ready; its reply is an error, not a status
                return {"live": True, "ready": False, "metadata": None, "status": status, "identity": identity}
            body = self._object(path, body, ("name", "ready"))
            self._name(identity, "status", body.get("name"))
            return {"live": True, "ready": status == 200 and body.get("ready") is True,
                    "metadata": body if status == 200 else None, "status": status, "identity": identity}
        status, body = self.request("GET", "/v2/health/live", accept=(200, 503))
        live = status == 200 and self._flag("/v2/health/live", body, "live")
        path = "/v2/models/%s" % self.model
        mstatus, mbody = self.request("GET", path, accept=(200, 400, 404, 503))
        if mstatus == 404:
            self._unknown_model(identity, path, mbody)
            return {"live": live, "ready": False, "metadata": None, "status": mstatus, "identity": identity}
        metadata = None
        if mstatus == 200:
            metadata = self._object(path, mbody, ("name",))
            self._name(identity, "metadata", metadata.get("name"))
            identity["versions"] = [str(v) for v in metadata.get("versions") or []]
        else:  # 503 while the model loads; the judge says identity is unproven
            identity["unavailable"] = "GET %s answered HTTP %s" % (path, mstatus)
        rpath = "/v2/models/%s/ready" % self.model
        status, body = self.request("GET", rpath, accept=(200, 400, 404, 503))
        ready = status == 200 and self._flag(rpath, body, "ready")
        if isinstance(body, dict) and "name" in body:
            self._name(identity, "ready", body.get("name"))
        return {"live": live, "ready": ready, "metadata": metadata, "status": status, "identity": identity}

    def _object(self, path, body, fields):
        """``body`` if it is a JSON object with every field in ``fields``; else a protocol error."""
        missing = [f for f in fields if not isinstance(body, dict) or f not in body]
        if missing:
            raise KServeError("GET %s%s answered %s without %s: not the %s protocol's reply" % (
                self.url, path, _short(body), ", ".join("'%s'" % f for f in missing), self.protocol.upper()),
                "protocol", self.url, hint="check that the URL is a KServe predictor speaking the %s protocol "
                "(verify_kserve.protocol)" % self.protocol)
        return body

    def _flag(self, path, body, field):
        """A health reply: the status decides (the spec allows an empty body); a JSON body must carry ``field``."""
        if body is None:
            return True
        return self._object(path, body, (field,)).get(field) is True

    def _name(self, identity, where, name):
        identity["names"][where] = name
        if name != self.model:
            identity["problems"].append("the %s reply names model %r, not %r" % (where, name, self.model))
            identity["hint"] = ("the URL (or the Host header behind an ingress) reaches the predictor of another "
                                "model: fix verify_kserve.url / host_header, or the ingress route")

    def _unknown_model(self, identity, path, body):
        identity["problems"].append("the server does not know model %s (GET %s answered HTTP 404: %s)" % (
            self.model, path, _short(body)))
        identity["hint"] = ("check verify_kserve.model against the InferenceService's name and the protocol (v1/v2) "
                            "of its predictor")

    # -- prediction

    def predict(self, body, identity=None):
        """(prediction, served_version, raw response) for one request body.

        With ``identity`` (from :meth:`state`), the response's model name and
        version are checked against it.
        """
        if self.protocol == "v1":
            if "instances" not in body and "inputs" not in body:
                raise KServeError("a V1 request needs 'instances' (or 'inputs')", "protocol", self.url,
                                  hint="give predict: {instances: [[...]]}")
            status, resp = self.request("POST", "/v1/models/%s:predict" % self.model, body)
            if not isinstance(resp, dict) or "predictions" not in resp:
                raise KServeError("V1 predict answered without 'predictions': %s" % _short(resp), "protocol",
                                  self.url, hint="check that the endpoint speaks the V1 protocol")
            # V1 responses name no model: identity rests on the status reply.
            return resp["predictions"], resp.get("model_version"), resp
        body = dict(body)
        # KServe answers 500 to a V2 request without an id unless the model sets one.
        body.setdefault("id", str(uuid.uuid4()))
        if "inputs" not in body:
            raise KServeError("a V2 request needs 'inputs'", "protocol", self.url,
                              hint="give predict: {inputs: [{name, shape, datatype, data}]}")
        status, resp = self.request("POST", "/v2/models/%s/infer" % self.model, body)
        if not isinstance(resp, dict) or "outputs" not in resp or "model_name" not in resp:
            missing = "outputs" if not isinstance(resp, dict) or "outputs" not in resp else "model_name"
            raise KServeError("V2 infer answered without '%s': %s" % (missing, _short(resp)), "protocol", self.url,
                              hint="check that the endpoint speaks the V2 (Open Inference) protocol")
        version = resp.get("model_version")
        if identity is not None:
            self._name(identity, "response", resp.get("model_name"))
            if version not in (None, "") and identity["versions"] and str(version) not in identity["versions"]:
                identity["problems"].append("the response's model_version %s is not one of the versions the "
                                            "metadata of %s lists (%s)" % (version, self.model,
                                                                           ", ".join(identity["versions"])))
                identity["hint"] = ("replies come from different predictors behind one URL: check the "
                                    "InferenceService's traffic split and the ingress route")
        outputs = {out.get("name"): out.get("data") for out in resp["outputs"]}
        return outputs, version, resp


def served_version(metadata, response_version):
    """The model version the server says it serves: the response's, else the newest in V2 metadata."""
    if response_version not in (None, ""):
        return str(response_version)
    versions = (metadata or {}).get("versions") or []
    return str(versions[-1]) if versions else None


def only_output(prediction):
    """A V2 prediction (a dict output name -> data) with one output as that output's data; anything else as is."""
    if isinstance(prediction, dict) and len(prediction) == 1:
        return next(iter(prediction.values()))
    return prediction


def compare(actual, expected, tolerance=1e-6, path="$"):
    """The first difference between ``actual`` and ``expected`` as a sentence, or None if they match.

    Numbers match within ``tolerance`` (absolute or relative); V2 outputs
    (a dict name -> data) match an expected list against their only output.
    """
    if isinstance(expected, list):
        actual = only_output(actual)
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
