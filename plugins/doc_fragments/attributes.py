# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Shared ``attributes`` documentation of the collection's modules.

Every module extends the base fragment (it describes each attribute once)
and one fragment that says how much the module supports::

    extends_documentation_fragment:
      - baremetal.mlops.attributes
      - baremetal.mlops.attributes.facts          # *_facts modules
    #  - baremetal.mlops.attributes.info          # *_info modules
    #  - baremetal.mlops.attributes.state_changing  # modules that change state
    #  - baremetal.mlops.attributes.actiongroup_mlflow  # member of group/baremetal.mlops.mlflow (or _feast)

The base fragment declares ``platform`` as ``posix``; a module that only works
on Linux (sysfs, procfs) says so in its own DOCUMENTATION::

    attributes:
      platform:
        platforms: linux

Keys in a module's own ``attributes`` win over the fragments' (and an
earlier fragment wins over a later one), so a module whose support differs
overrides ``attributes.<name>.support``/``details`` the same way.
"""

from __future__ import annotations


class ModuleDocFragment(object):

    # Descriptions of every attribute; the support level comes from the fragments below.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in C(check_mode) and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in C(check_mode)), when in diff mode.
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: posix
"""

    # Host facts modules: read only, return ansible_facts.
    FACTS = r"""
options: {}
attributes:
  check_mode:
    support: full
    details: The module only reads the host; it behaves the same in check mode.
  diff_mode:
    support: none
    details: The module changes nothing, so there is no diff.
  facts:
    description: Action returns an C(ansible_facts) dictionary that updates existing host facts.
    support: full
"""

    # Queries of a service (*_info): read only, results in the return value, not in facts.
    INFO = r"""
options: {}
attributes:
  check_mode:
    support: full
    details: The module only reads; it behaves the same in check mode.
  diff_mode:
    support: none
    details: The module changes nothing, so there is no diff.
"""

    # Modules that change state: predict in check mode, show before/after in diff mode.
    STATE_CHANGING = r"""
options: {}
attributes:
  check_mode:
    support: full
    details: In check mode the module computes and returns what it would change, and changes nothing.
  diff_mode:
    support: full
    details: The diff shows the state before and after (predicted in check mode).
"""

    # Members of action group mlflow (meta/runtime.yml): the MLflow modules share their connection options.
    ACTIONGROUP_MLFLOW = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/baremetal.mlops.mlflow) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - baremetal.mlops.mlflow
"""

    # Members of action group feast (meta/runtime.yml): the Feast modules share repo_path, environment, timeout.
    ACTIONGROUP_FEAST = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/baremetal.mlops.feast) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - baremetal.mlops.feast
"""
