# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Errors of the MLflow backend (tracking server, model registry, artifact store).

Every error names the tracking URI (as ``host``, without any user:password
part), the component (``mlflow`` or ``mlflow artifact store``), what was
found and the fix. ``kind`` says what went wrong, for callers that react to
it (the probe tells an unreachable server from a failing step):

``unreachable``  no answer at all: connection refused, DNS, TLS
``timeout``      no answer within the timeout
``auth``         the server refused the credentials (HTTP 401/403)
``not_found``    the experiment, run, model or version does not exist
``refused``      the module refuses the request; nothing was changed
``error``        the server answered with another error
"""

from __future__ import annotations

from ansible_collections.baremetal.mlops.plugins.module_utils.common.exceptions import MlopsError

COMPONENT = "mlflow"
ARTIFACT_COMPONENT = "mlflow artifact store"

KINDS = ("unreachable", "timeout", "auth", "not_found", "refused", "error")


class MlflowError(MlopsError):
    """An MLflow request failed, or the module refuses one.

    :param msg: what was found.
    :param kind: one of :data:`KINDS`.
    :param tracking_uri: the tracking URI, already stripped of credentials.
    :param error_code: MLflow's error code (``RESOURCE_DOES_NOT_EXIST``...), when it sent one.
    """

    def __init__(self, msg, kind="error", tracking_uri=None, error_code=None, **kwargs):
        self.kind = kind
        self.tracking_uri = tracking_uri
        self.error_code = error_code
        details = dict(kwargs.pop("details", None) or {})
        details["kind"] = kind
        if error_code:
            details["error_code"] = error_code
        kwargs.setdefault("component", COMPONENT)
        super().__init__(msg, host=tracking_uri, details=details, **kwargs)


class MlflowUnreachableError(MlflowError):
    """The tracking server did not answer at all (refused, DNS, TLS, timeout)."""


class MlflowRefusedError(MlflowError):
    """The module refuses the request (a missing version, an immutable field); nothing was changed."""

    def __init__(self, msg, **kwargs):
        kwargs.setdefault("kind", "refused")
        super().__init__(msg, **kwargs)
