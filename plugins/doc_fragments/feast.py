# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Options shared by the Feast modules (feast_apply, feast_materialize, feast_info)."""

from __future__ import annotations


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  repo_path:
    description:
      - Path, on the target, of the feature repository, the directory that holds C(feature_store.yaml) and the
        Python files with the definitions.
    type: path
    required: true
  environment:
    description:
      - Environment variables set while the module uses the repository. C(feature_store.yaml) expands C(${VAR})
        with the environment, so this is how passwords reach it.
      - For each variable V(NAME) the module also sets V(NAME_URLENCODED), its value percent-encoded
        (C(urllib.parse.quote) with no safe characters). Put credentials into URLs only in that form, for example
        C(postgresql+psycopg://${MLOPS_PG_USER_URLENCODED}:${MLOPS_PG_PASSWORD_URLENCODED}@db:5432/feast) - a raw
        password with C(@), C(:), C(/), C(?) or C(#) is cut apart by the URL parser.
      - Every value is treated as a secret and masked in the module's output, also where it appears inside
        other text; pass variables that are not secret (hosts, ports) with the task's C(environment) keyword
        if you want to read them in messages.
      - Variables of the module's own environment stay visible unless overridden here.
    type: dict
    default: {}
  timeout:
    description:
      - Seconds allowed to connect to the registry, the offline store and the online store, and for each read
        or request; opening the repository and every read of the registry and the online store must finish
        within it as a whole. Redis connections are not retried.
      - Sets C(PGCONNECT_TIMEOUT) unless the environment has it.
      - Materializing and applying may take longer in total; their connections are bounded the same way.
    type: int
    default: 30
requirements:
  - feast (with the extras of the stores the repository uses, e.g. C(feast[postgres,redis]))
notes:
  - Feast prints progress; the module keeps it out of its result.
"""
