# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one way module_utils run external tools.

Collectors never import ``subprocess`` and never see the ``AnsibleModule``:
they get a ``run(argv) -> (rc, stdout, stderr)`` callable built here from
``module.run_command`` with a C locale, so tool output is parseable and unit
tests can hand in a fake.
"""

from __future__ import annotations

C_LOCALE = {"LANG": "C", "LC_ALL": "C", "LC_MESSAGES": "C", "LC_CTYPE": "C"}


def command_runner(module):
    """Return ``run(argv)`` calling ``module.run_command`` with a C locale."""

    def run(argv):
        return module.run_command(list(argv), environ_update=dict(C_LOCALE), check_rc=False)

    return run
