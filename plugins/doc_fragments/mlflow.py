# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Connection options of the MLflow modules.

The argument spec that goes with it is
``plugins/module_utils/mlflow/client.py:connection_argspec()``; change both
together.
"""

from __future__ import annotations


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  tracking_uri:
    description:
      - URI of the MLflow tracking server, e.g. C(http://mlflow.mlops.svc:5000).
      - The model registry is reached at the same URI.
      - If not set, the environment variable E(MLOPS_MLFLOW_TRACKING_URI) is used, then E(MLFLOW_TRACKING_URI).
      - Do not put credentials in the URI; use O(tracking_token) or O(tracking_username) and O(tracking_password).
    type: str
    required: true
  tracking_token:
    description:
      - Bearer token for the tracking server.
      - If not set, the environment variable E(MLOPS_MLFLOW_TRACKING_TOKEN) is used.
      - Mutually exclusive with O(tracking_username).
    type: str
  tracking_username:
    description:
      - User name for HTTP basic authentication to the tracking server (MLflow's basic-auth app).
      - If not set, the environment variable E(MLOPS_MLFLOW_TRACKING_USERNAME) is used.
      - Requires O(tracking_password).
    type: str
  tracking_password:
    description:
      - Password for O(tracking_username).
      - If not set, the environment variable E(MLOPS_MLFLOW_TRACKING_PASSWORD) is used.
    type: str
  timeout:
    description:
      - Seconds each HTTP request to the tracking server (and, through it, to its artifact store) may take.
      - Requests are not retried, so a dead server or artifact store is reported after about this long, instead
        of after MLflow's default of 120 s per request and 7 retries with backoff.
    type: int
    default: 10
notes:
  - The module runs the MLflow Python client on the target host, usually C(localhost) or a host that can reach
    the tracking server; the client needs the C(mlflow) (or C(mlflow-skinny)) Python package there.
"""
