# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filters that turn what verify.yml observed into check records.

The rules live in ``module_utils/verify/checks.py``; these filters only
expose them to the ``verify`` role, for example
``{{ verify_redis_info.info | baremetal.mlops.verify_redis(endpoint, 'allkeys-lru') }}``.
"""

from __future__ import annotations

from ansible_collections.baremetal.mlops.plugins.module_utils.verify import checks


class FilterModule(object):
    def filters(self):
        return {
            "verify_error": checks.from_error,
            "verify_layer_stopped": checks.layer_stopped,
            "verify_without_fix": checks.without_fix,
            "verify_not_configured": checks.not_configured,
            "verify_not_configured_all": checks.not_configured_all,
            "verify_selected_layers": checks.selected_layers,
            "verify_champion": checks.champion_of,
            "verify_mlflow_champion_not_asked": checks.mlflow_champion_not_asked,
            "verify_k8s_api": checks.k8s_api,
            "verify_postgresql": checks.postgresql,
            "verify_redis": checks.redis,
            "verify_s3": checks.s3,
            "verify_mlflow_probe": checks.mlflow_probe,
            "verify_mlflow_champion": checks.mlflow_champion,
            "verify_feast": checks.feast,
            "verify_kserve": checks.kserve,
            "verify_probe_rows": checks.probe_rows,
            "verify_md_arrays": checks.md_arrays,
            "verify_mount": checks.mount,
            "verify_gpus": checks.gpus,
            "verify_k8s_nodes": checks.k8s_nodes,
            "verify_k8s_health": checks.k8s_health,
        }
