# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one place that talks to MLflow: connection options, client, errors.

:func:`connection_argspec` is the argument spec of the connection options
that every MLflow module takes (documented once in the
``baremetal.mlops.mlflow`` doc fragment). :func:`connect` builds an
``MlflowClient`` whose HTTP requests give up after ``timeout`` seconds
without retries: MLflow's own default is 120 s per request and 7 retries
with exponential backoff, minutes before a dead server or a broken artifact
store is reported. The limits, and the credentials, go to the environment
variables MLflow reads at each request (also for the artifact repositories
it builds itself), so they hold for every request of the module's process.

:meth:`MlflowConnection.call` runs one client call and turns whatever it
raises (``MlflowException``, ``requests`` errors) into an
:class:`~.exceptions.MlflowError` that names the tracking URI, what failed
and the fix.
"""

from __future__ import annotations

import os
import re
import traceback
from urllib.parse import urlsplit, urlunsplit

from ansible.module_utils.basic import env_fallback
from ansible_collections.baremetal.mlops.plugins.module_utils.common.redact import one_line, redact
from ansible_collections.baremetal.mlops.plugins.module_utils.mlflow.exceptions import (
    ARTIFACT_COMPONENT,
    COMPONENT,
    MlflowError,
    MlflowUnreachableError,
)

try:
    import requests
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
    from mlflow.tracking import MlflowClient
    # MLflow loads request-header plugins of other packages (feast has one) at its first request,
    # which can take seconds; loading them here keeps that out of the time of the first request.
    from mlflow.tracking.request_header import registry as _request_header_registry  # noqa: F401
    from mlflow.utils import request_utils
    HAS_MLFLOW = True
    MLFLOW_IMPORT_ERROR = None
except ImportError:  # the module reports missing_required_lib("mlflow")
    HAS_MLFLOW = False
    MLFLOW_IMPORT_ERROR = traceback.format_exc()

# Where each connection option falls back to when not given.
TRACKING_URI_ENV = ("MLOPS_MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_URI")
TRACKING_TOKEN_ENV = ("MLOPS_MLFLOW_TRACKING_TOKEN",)
TRACKING_USERNAME_ENV = ("MLOPS_MLFLOW_TRACKING_USERNAME",)
TRACKING_PASSWORD_ENV = ("MLOPS_MLFLOW_TRACKING_PASSWORD",)
DEFAULT_TIMEOUT = 10

# Retries are off: a retried POST is not idempotent (a second model version),
# and a failure must come back within ``timeout``, not after minutes of backoff.
MAX_RETRIES = 0
BACKOFF_FACTOR = 0

NOT_FOUND_CODES = frozenset(("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND", "ENDPOINT_NOT_FOUND"))
AUTH_CODES = frozenset(("UNAUTHENTICATED", "PERMISSION_DENIED", "CUSTOMER_UNAUTHORIZED"))


def connection_argspec():
    """Argument spec of the connection options every MLflow module takes."""
    return dict(
        tracking_uri=dict(type="str", required=True, fallback=(env_fallback, list(TRACKING_URI_ENV))),
        tracking_token=dict(type="str", no_log=True, fallback=(env_fallback, list(TRACKING_TOKEN_ENV))),
        tracking_username=dict(type="str", fallback=(env_fallback, list(TRACKING_USERNAME_ENV))),
        tracking_password=dict(type="str", no_log=True, fallback=(env_fallback, list(TRACKING_PASSWORD_ENV))),
        timeout=dict(type="int", default=DEFAULT_TIMEOUT),
    )


def mlflow_argspec(**options):
    """The connection options plus a module's own ``options``."""
    spec = connection_argspec()
    spec.update(options)
    return spec


def connection_kwargs():
    """``AnsibleModule`` keyword arguments that go with :func:`connection_argspec`."""
    return dict(required_together=[("tracking_username", "tracking_password")],
                mutually_exclusive=[("tracking_token", "tracking_username")])


def check_timeout(timeout):
    """A problem with ``timeout``, or None."""
    if timeout < 1:
        return "timeout: %d is not a number of seconds >= 1" % timeout
    return None


def safe_uri(uri):
    """``uri`` without a ``user:password@`` part, fit for messages and return values."""
    if not uri:
        return uri
    try:
        parts = urlsplit(uri)
    except ValueError:
        return uri
    if "@" not in parts.netloc:
        return uri
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def client_environment(timeout, token=None, username=None, password=None, tracking_uri=None):
    """Environment variables that make MLflow's HTTP requests bounded and authenticated.

    MLflow reads them at every request, also in the artifact repositories it
    builds itself (``mlflow-artifacts:`` URIs), which take no credentials of
    their own.
    """
    env = {
        "MLFLOW_HTTP_REQUEST_TIMEOUT": str(timeout),
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": str(MAX_RETRIES),
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": str(BACKOFF_FACTOR),
        "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    }
    if tracking_uri:
        env["MLFLOW_TRACKING_URI"] = tracking_uri
    if token:
        env["MLFLOW_TRACKING_TOKEN"] = token
    if username:
        env["MLFLOW_TRACKING_USERNAME"] = username
        env["MLFLOW_TRACKING_PASSWORD"] = password or ""
    return env


def _chain(exc):
    """``exc`` and every exception it was raised from, while handling, or for (urllib3's ``reason``)."""
    seen = []
    todo = [exc]
    while todo:
        err = todo.pop(0)
        if err is None or not isinstance(err, BaseException) or any(err is s for s in seen):
            continue
        seen.append(err)
        todo.extend((err.__cause__, err.__context__, getattr(err, "reason", None)))
    return seen


def _is_timeout(err):
    # requests reports a read timeout as ConnectionError once urllib3 has no retries left;
    # the urllib3 ReadTimeoutError/ConnectTimeoutError (and socket.timeout) below it tell.
    return isinstance(err, (requests.exceptions.Timeout, TimeoutError)) or (
        type(err).__name__ in ("ReadTimeoutError", "ConnectTimeoutError") and type(err).__module__.startswith("urllib3"))


def _error_code(exc):
    code = getattr(exc, "error_code", None)
    return code if isinstance(code, str) else None


# How much of a server's own error text (MLflow quotes the response body) goes into a message.
CAUSE_LIMIT = 600


def translate(exc, action, tracking_uri, timeout, component=COMPONENT, raw_uri=None, secrets=()):
    """An :class:`MlflowError` for ``exc``, raised while doing ``action`` (e.g. "create experiment 'x'").

    ``raw_uri`` is the tracking URI as given, credentials included; it is
    replaced by ``tracking_uri`` in MLflow's messages. The server's own
    error text travels in the message, bounded and without ``secrets``.
    """
    if isinstance(exc, MlflowError):
        return exc
    chain = _chain(exc)
    kw = dict(tracking_uri=tracking_uri, component=component)

    def text(e):
        message = getattr(e, "message", None) or str(e) or type(e).__name__
        if raw_uri and raw_uri != tracking_uri:
            message = message.replace(raw_uri, tracking_uri)
        return redact(one_line(message), secrets, limit=CAUSE_LIMIT)

    if HAS_MLFLOW and any(_is_timeout(err) for err in chain):
        return MlflowUnreachableError(
            "%s: no answer within %d s." % (action, timeout), kind="timeout",
            hint="check that the server at the tracking URI runs and is not overloaded, "
                 "or raise timeout (now %d s)" % timeout, **kw)
    if HAS_MLFLOW:
        for err in chain:
            if isinstance(err, requests.exceptions.SSLError):
                return MlflowUnreachableError(
                    "%s: TLS failed: %s" % (action, text(err)), kind="unreachable",
                    hint="use the http:// URI if the server has no TLS, or make its CA trusted "
                         "(REQUESTS_CA_BUNDLE)", **kw)
            if isinstance(err, requests.exceptions.ConnectionError):
                return MlflowUnreachableError(
                    "%s: cannot connect to the tracking server: %s" % (action, _root_cause(err)), kind="unreachable",
                    hint="check that the MLflow server runs and that tracking_uri (or MLOPS_MLFLOW_TRACKING_URI) "
                         "names its scheme, host and port", **kw)
            if isinstance(err, requests.exceptions.RetryError):
                # urllib3 raises this for an error status it would retry; the answer's body is gone.
                status = re.search(r"too many (\d+) error responses", str(err))
                found = "HTTP %s" % status.group(1) if status else _root_cause(err)
                return MlflowError("%s: the tracking server answered %s." % (action, found),
                                   hint=_server_error_hint(component), **kw)
    code = _error_code(exc)
    if code in NOT_FOUND_CODES:
        return MlflowError("%s: not found: %s" % (action, text(exc)), kind="not_found", error_code=code, **kw)
    if code in AUTH_CODES or " 401 " in str(exc) or " 403 " in str(exc):
        return MlflowError("%s: the tracking server refused the credentials: %s" % (action, text(exc)), kind="auth",
                           error_code=code,
                           hint="set tracking_token, or tracking_username and tracking_password, to an account "
                                "allowed to do this", **kw)
    return MlflowError("%s: %s" % (action, text(exc)), error_code=code, hint=_server_error_hint(component), **kw)


def _root_cause(exc):
    """The innermost reason of a requests/urllib3 error, in a few words."""
    reason = exc
    while True:
        inner = getattr(reason, "reason", None)
        if inner is None and reason.args and isinstance(reason.args[0], BaseException):
            inner = reason.args[0]
        if inner is None or inner is reason or not isinstance(inner, BaseException):
            break
        reason = inner
    message = str(reason)
    # urllib3 prefixes "<connection object at 0x...>: "; the rest is the reason.
    if ">: " in message:
        message = message.split(">: ", 1)[1]
    return message


def _server_error_hint(component):
    if component == COMPONENT:
        return "see the MLflow server's log for the cause"
    return ("the tracking server could not use its artifact store: check that the storage behind it "
            "(--artifacts-destination, e.g. S3) runs and that the server's credentials for it are valid; "
            "the MLflow server's log names the cause")


def return_error_responses():
    """Make MLflow's HTTP sessions hand an error answer back instead of raising ``RetryError``.

    With retries off, urllib3 raises for a status MLflow counts as transient
    (500, 503...) and drops the response, so the server's own error text -
    'database "mlflow" does not exist' - never reaches the operator. MLflow
    builds its sessions in ``request_utils._cached_get_request_session``,
    whose ``raise_on_status`` argument decides that; this wraps it once so
    that it is False: MLflow's own response handling then raises an
    ``MlflowException`` that quotes the body. Without that function (another
    MLflow), errors keep reporting the status only.
    """
    cached = getattr(request_utils, "_cached_get_request_session", None)
    if cached is None or getattr(cached, "returns_error_responses", False):
        return

    def sessions(max_retries, backoff_factor, backoff_jitter, retry_codes, _raise_on_status, *args, **kwargs):
        return cached(max_retries, backoff_factor, backoff_jitter, retry_codes, False, *args, **kwargs)

    sessions.cache_clear = cached.cache_clear
    sessions.returns_error_responses = True
    request_utils._cached_get_request_session = sessions


def drop_pooled_connections():
    """Forget MLflow's pooled HTTP connections, so that the next request opens a new one.

    After answering an upload with an error (the artifact store is down), the
    MLflow server closes the connection; with retries off, the next request
    on that pooled connection would fail with "connection reset". MLflow
    keeps its ``requests`` sessions in an ``lru_cache``; clearing it is the
    only handle there is.
    """
    cached = getattr(request_utils, "_cached_get_request_session", None)
    clear = getattr(cached, "cache_clear", None)
    if clear is not None:
        clear()


class MlflowConnection(object):
    """An ``MlflowClient`` for one tracking URI, with bounded requests and typed errors.

    :param tracking_uri: the tracking URI, as given (it may carry credentials).
    :param timeout: seconds each HTTP request may take.
    """

    def __init__(self, tracking_uri, timeout=DEFAULT_TIMEOUT, token=None, username=None, password=None):
        self.raw_uri = tracking_uri
        self.tracking_uri = safe_uri(tracking_uri)
        self.timeout = timeout
        self.secrets = tuple(s for s in (token, password) if s)
        return_error_responses()
        os.environ.update(client_environment(timeout, token=token, username=username, password=password,
                                             tracking_uri=tracking_uri))
        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)

    def error(self, exc, action, component=COMPONENT):
        """:func:`translate` for this connection."""
        return translate(exc, action, self.tracking_uri, self.timeout, component=component, raw_uri=self.raw_uri,
                         secrets=self.secrets)

    def call(self, action, method, *args, **kwargs):
        """``self.client.<method>(*args, **kwargs)``; errors become :class:`MlflowError` naming ``action``.

        ``component`` (keyword) is the component named in the error, ``mlflow``
        by default.
        """
        component = kwargs.pop("component", COMPONENT)
        try:
            return getattr(self.client, method)(*args, **kwargs)
        except Exception as exc:  # MLflow raises MlflowException, requests errors, OSError...
            drop_pooled_connections()
            raise self.error(exc, action, component=component)

    def delete_artifacts(self, artifact_uri, path):
        """Delete ``path`` under ``artifact_uri`` (a run's artifact URI) from the artifact store."""
        action = "delete artifact '%s' of %s" % (path, artifact_uri)
        try:
            repo = get_artifact_repository(artifact_uri, tracking_uri=self.raw_uri)
            repo.delete_artifacts(path)
        except Exception as exc:  # MLflow raises MlflowException, requests errors, OSError...
            drop_pooled_connections()
            raise self.error(exc, action, component=ARTIFACT_COMPONENT)

    def list_artifact_names(self, artifact_uri):
        """Names of the files and directories directly under ``artifact_uri``, read the way a model server reads
        them (MLflow's artifact repository for that URI, through the tracking server's proxy where it is one)."""
        action = "list the files at %s" % artifact_uri
        try:
            repo = get_artifact_repository(artifact_uri, tracking_uri=self.raw_uri)
            return sorted(f.path.rstrip("/").split("/")[-1] for f in repo.list_artifacts())
        except Exception as exc:  # MLflow raises MlflowException, requests errors, OSError...
            drop_pooled_connections()
            raise self.error(exc, action, component=ARTIFACT_COMPONENT)

    def read_artifact_text(self, artifact_uri, path, dst_dir):
        """The text of the file ``path`` under ``artifact_uri``, downloaded into ``dst_dir``."""
        action = "read %s of %s" % (path, artifact_uri)
        try:
            repo = get_artifact_repository(artifact_uri, tracking_uri=self.raw_uri)
            local = repo.download_artifacts(path, dst_path=dst_dir)
            with open(local, encoding="utf-8") as handle:
                return handle.read()
        except Exception as exc:  # MLflow raises MlflowException, requests errors, OSError...
            drop_pooled_connections()
            raise self.error(exc, action, component=ARTIFACT_COMPONENT)

    def predict(self, artifact_uri, inputs, dst_dir):
        """The predictions of the model at ``artifact_uri`` for ``inputs``, loaded as an MLflow pyfunc model from
        its files downloaded through the artifact repository (as a model server loads it). ``inputs`` is a list of
        rows: lists (a numeric array) or dicts (a table with named columns). Returns a JSON-ready list."""
        action = "load the model at %s and predict the probe inputs" % artifact_uri
        try:
            import mlflow.pyfunc
            import numpy

            repo = get_artifact_repository(artifact_uri, tracking_uri=self.raw_uri)
            local = repo.download_artifacts("", dst_path=dst_dir)
            model = mlflow.pyfunc.load_model(local)
            if inputs and all(isinstance(row, dict) for row in inputs):
                import pandas

                data = pandas.DataFrame(list(inputs))
            else:
                data = numpy.asarray(inputs)
            return json_ready(model.predict(data))
        except Exception as exc:  # MLflow, the flavor's library, numpy: whatever loading or predicting raises
            drop_pooled_connections()
            raise self.error(exc, action, component=ARTIFACT_COMPONENT)

    def get(self, action, method, *args, **kwargs):
        """Like :meth:`call`, but None where MLflow says the thing does not exist."""
        try:
            return self.call(action, method, *args, **kwargs)
        except MlflowError as exc:
            if exc.kind == "not_found":
                return None
            raise


def json_ready(value):
    """A model's output (numpy array, pandas frame or series, scalars) as plain JSON values."""
    if hasattr(value, "to_numpy"):
        value = value.to_numpy()
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, dict):
        return dict((str(k), json_ready(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    return value


def connect(params):
    """An :class:`MlflowConnection` from a module's params (see :func:`connection_argspec`)."""
    return MlflowConnection(params["tracking_uri"], timeout=params["timeout"], token=params.get("tracking_token"),
                            username=params.get("tracking_username"), password=params.get("tracking_password"))
