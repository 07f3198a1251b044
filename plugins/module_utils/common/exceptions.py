# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Base of every typed error raised by the collection's module_utils.

Only a module's ``main()`` calls ``fail_json``. Everything below it raises a
subclass of :class:`MlopsError`; ``main()`` catches it and passes
:meth:`MlopsError.fail_kwargs` to ``fail_json``. The message names where the
problem is (host, component, device), what was found, and how to fix it.
"""

from __future__ import annotations

import platform


class MlopsError(Exception):
    """An error carrying the context an operator needs to act on it.

    :param msg: what was found, in one sentence.
    :param component: the subsystem or tool, e.g. ``nvme-cli`` or ``sysfs``.
    :param device: the device the error is about, e.g. ``/dev/nvme0n1``.
    :param hint: how to fix it.
    :param host: the host name; defaults to this machine's node name.
    :param details: extra keys that ``fail_json`` returns next to ``msg``.
    """

    def __init__(self, msg, component=None, device=None, hint=None, host=None, details=None):
        self.msg = msg
        self.component = component
        self.device = device
        self.hint = hint
        self.host = platform.node() if host is None else host
        self.details = dict(details or {})
        super().__init__(self.message)

    @property
    def message(self):
        where = " ".join(part for part in (self.host, self.component, self.device) if part)
        text = "%s: %s" % (where, self.msg) if where else self.msg
        if self.hint:
            text = "%s Fix: %s" % (text.rstrip(), self.hint)
        return text

    def fail_kwargs(self):
        """Keyword arguments for ``AnsibleModule.fail_json``."""
        kwargs = dict(self.details)
        kwargs["msg"] = self.message
        if self.device:
            kwargs["device"] = self.device
        if self.component:
            kwargs.setdefault("component", self.component)
        if self.hint:
            kwargs.setdefault("hint", self.hint)
        return kwargs


class CommandError(MlopsError):
    """An external command failed: non-zero exit, or output it cannot have meant."""

    def __init__(self, msg, cmd=None, rc=None, stdout=None, stderr=None, **kwargs):
        details = dict(kwargs.pop("details", None) or {})
        if cmd is not None:
            details["cmd"] = " ".join(cmd) if isinstance(cmd, (list, tuple)) else cmd
        for key, value in (("rc", rc), ("stdout", stdout), ("stderr", stderr)):
            if value is not None:
                details[key] = value
        self.cmd = cmd
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        super().__init__(msg, details=details, **kwargs)


class ParseError(MlopsError):
    """Output of a tool, or a kernel file, is not in any format we know."""
