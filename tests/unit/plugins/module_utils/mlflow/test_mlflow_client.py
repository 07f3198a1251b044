# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The MLflow client wrapper: options, environment, and the errors of real failed requests.

No MLflow server is needed: a closed port and a socket that accepts but never
answers are real failures, reached through the real MLflow client.
"""

from __future__ import annotations

import os
import socket
import time

import pytest
from mlflow.exceptions import MlflowException, RestException

from ansible_collections.baremetal.mlops.plugins.module_utils.mlflow import client
from ansible_collections.baremetal.mlops.plugins.module_utils.mlflow.exceptions import (
    MlflowError,
    MlflowUnreachableError,
)
from ansible_collections.baremetal.mlops.plugins.module_utils.mlflow.probe import Probe


@pytest.fixture(autouse=True)
def keep_environment(monkeypatch):
    """MlflowConnection writes os.environ; give each test its own copy."""
    for name in list(os.environ):
        if name.startswith("MLFLOW_"):
            monkeypatch.delenv(name)
    monkeypatch.setattr(os, "environ", os.environ.copy())


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_connection_argspec_fallbacks_and_secrets():
    spec = client.connection_argspec()
    assert spec["tracking_uri"]["fallback"][1] == ["MLOPS_MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_URI"]
    assert spec["tracking_token"]["no_log"] is True
    assert spec["tracking_password"]["no_log"] is True
    assert spec["tracking_password"]["fallback"][1] == ["MLOPS_MLFLOW_TRACKING_PASSWORD"]
    assert spec["timeout"] == dict(type="int", default=10)
    assert set(client.mlflow_argspec(name=dict(type="str"))) == set(spec) | {"name"}


@pytest.mark.parametrize("uri, expected", [
    ("http://user:pw@mlflow:5000/path?x=1", "http://mlflow:5000/path?x=1"),
    ("https://mlflow.example", "https://mlflow.example"),
    ("", ""),
    (None, None),
])
def test_safe_uri_drops_credentials(uri, expected):
    assert client.safe_uri(uri) == expected


def test_client_environment_bounds_requests_and_passes_credentials():
    env = client.client_environment(7, token="tok", tracking_uri="http://m:5000")
    assert env["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "7"
    assert env["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "0"
    assert env["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"] == "0"
    assert env["MLFLOW_TRACKING_TOKEN"] == "tok"
    assert "MLFLOW_TRACKING_USERNAME" not in env
    env = client.client_environment(7, username="u", password="p")
    assert (env["MLFLOW_TRACKING_USERNAME"], env["MLFLOW_TRACKING_PASSWORD"]) == ("u", "p")


def test_check_timeout():
    assert client.check_timeout(1) is None
    assert client.check_timeout(0) == "timeout: 0 is not a number of seconds >= 1"


def test_refused_connection_is_unreachable_and_names_the_uri_without_credentials():
    port = closed_port()
    conn = client.MlflowConnection("http://probe:s3cret@127.0.0.1:%d" % port, timeout=5)
    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "5"
    with pytest.raises(MlflowUnreachableError):  # the first request loads MLflow's plugins, seconds
        conn.call("search experiments", "search_experiments", max_results=1)
    start = time.monotonic()
    with pytest.raises(MlflowUnreachableError) as err:
        conn.call("search experiments", "search_experiments", max_results=1)
    assert time.monotonic() - start < 2  # no retries with backoff
    msg = err.value.message
    assert msg.startswith("http://127.0.0.1:%d mlflow: search experiments: cannot connect to the tracking server" % port)
    assert "Connection refused" in msg and "Fix: check that the MLflow server runs" in msg
    assert "s3cret" not in msg
    assert err.value.kind == "unreachable"
    assert err.value.fail_kwargs()["kind"] == "unreachable"


def test_server_that_never_answers_times_out_after_timeout():
    with socket.socket() as sock:  # the kernel accepts the connection; nobody ever answers
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        conn = client.MlflowConnection("http://127.0.0.1:%d" % sock.getsockname()[1], timeout=1)
        with pytest.raises(MlflowUnreachableError):  # the first request loads MLflow's plugins, seconds
            conn.call("look up experiment 'x'", "get_experiment_by_name", "x")
        start = time.monotonic()
        with pytest.raises(MlflowUnreachableError) as err:
            conn.call("look up experiment 'x'", "get_experiment_by_name", "x")
        elapsed = time.monotonic() - start
    assert elapsed < 4
    assert err.value.kind == "timeout"
    assert "look up experiment 'x': no answer within 1 s." in err.value.message
    assert "raise timeout (now 1 s)" in err.value.message


def test_probe_of_an_unreachable_server_fails_instead_of_reporting_steps():
    conn = client.MlflowConnection("http://127.0.0.1:%d" % closed_port(), timeout=2)
    with pytest.raises(MlflowUnreachableError):
        Probe(conn, "x").probe()
    with pytest.raises(MlflowUnreachableError):
        Probe(conn, "x").check()


@pytest.mark.parametrize("exc, kind, text", [
    (RestException({"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Run 'abc' not found"}), "not_found",
     "read run abc: not found: RESOURCE_DOES_NOT_EXIST: Run 'abc' not found"),
    (RestException({"error_code": "PERMISSION_DENIED", "message": "nope"}), "auth",
     "read run abc: the tracking server refused the credentials"),
    (MlflowException("API request to endpoint /x failed with error code 401 != 200"), "auth",
     "refused the credentials"),
    (RestException({"error_code": "INVALID_PARAMETER_VALUE", "message": "bad"}), "error",
     "read run abc: INVALID_PARAMETER_VALUE: bad Fix: see the MLflow server's log"),
])
def test_translate_mlflow_errors(exc, kind, text):
    err = client.translate(exc, "read run abc", "http://m:5000", 10)
    assert isinstance(err, MlflowError)
    assert err.kind == kind
    assert text in err.message
    assert err.message.startswith("http://m:5000 mlflow: ")


def test_translate_names_the_artifact_store_and_hides_credentials_in_messages():
    exc = MlflowException("API request to http://u:pw@m:5000/api failed")
    err = client.translate(exc, "write artifact a.txt", "http://m:5000", 10, component="mlflow artifact store",
                           raw_uri="http://u:pw@m:5000")
    assert err.message.startswith("http://m:5000 mlflow artifact store: write artifact a.txt: API request to "
                                  "http://m:5000/api failed")
    assert "check that the storage behind it" in err.message
