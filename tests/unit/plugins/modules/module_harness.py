# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Run a module's ``main()`` in-process.

Module arguments go in through ``ansible.module_utils.testing.patch_module_args``
(ansible-core >= 2.19); ``exit_json``/``fail_json`` raise so the test gets the
result; ``get_bin_path`` and ``run_command`` are answered by the test.
"""

from __future__ import annotations

import pytest

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args


class AnsibleExitJson(Exception):
    def __init__(self, kwargs):
        super().__init__(kwargs)
        self.result = kwargs


class AnsibleFailJson(Exception):
    def __init__(self, kwargs):
        super().__init__(kwargs)
        self.result = kwargs


def _exit_json(self, **kwargs):
    kwargs.setdefault("changed", False)
    kwargs["warnings"] = list(getattr(self, "_test_warnings", []))
    raise AnsibleExitJson(kwargs)


def _fail_json(self, msg, **kwargs):
    kwargs["msg"] = msg
    kwargs["failed"] = True
    raise AnsibleFailJson(kwargs)


def _warn(self, warning):
    if not hasattr(self, "_test_warnings"):
        self._test_warnings = []
    self._test_warnings.append(warning)


def run_module(monkeypatch, module, args, bins, runner, sysfs_root, proc_root):
    """Run ``module.main()`` and return ``(outcome, result)`` with outcome ``exit`` or ``fail``.

    :param bins: name -> path for ``get_bin_path``; missing names are not installed.
    :param runner: callable(argv) -> (rc, out, err), e.g. :class:`fake_host.FakeRunner`.
    """
    monkeypatch.setattr(module, "SYSFS_ROOT", sysfs_root)
    monkeypatch.setattr(module, "PROC_ROOT", proc_root)
    monkeypatch.setattr(basic.AnsibleModule, "exit_json", _exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", _fail_json)
    monkeypatch.setattr(basic.AnsibleModule, "warn", _warn)

    def get_bin_path(self, arg, required=False, opt_dirs=None):
        path = bins.get(arg)
        if path is None and required:
            self.fail_json(msg="Failed to find required executable %s" % arg)
        return path

    def run_command(self, args, check_rc=False, environ_update=None, **kwargs):
        assert environ_update and environ_update.get("LC_ALL") == "C", "commands must run with a C locale"
        return runner(args)

    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", get_bin_path)
    monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
    with patch_module_args(args):
        with pytest.raises((AnsibleExitJson, AnsibleFailJson)) as excinfo:
            module.main()
    outcome = "exit" if isinstance(excinfo.value, AnsibleExitJson) else "fail"
    return outcome, excinfo.value.result
