# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one scrubber for text that leaves a module: a server's error body, an exception's message.

:func:`redact` removes the secrets a module holds (passwords, tokens, keys),
passwords embedded in URLs (``scheme://user:password@host``), ``password=``
pairs and bearer tokens, and bounds the text, so that a server's own error
can travel into a report without carrying a secret or a page of HTML.
"""

from __future__ import annotations

import re

MASK = "********"
DEFAULT_LIMIT = 600


def one_line(text):
    """``text`` on one line: blank lines and SQLAlchemy's "(Background on this error at: ...)" links dropped."""
    lines = (line.strip() for line in str(text).splitlines())
    return " ".join(line for line in lines if line and not line.startswith("(Background on this error"))


def redact(text, secrets=(), limit=None):
    """``text`` without the ``secrets`` given, URL passwords, ``password=`` pairs and bearer tokens.

    ``limit``: keep at most that many characters (then "..." and how many
    were cut). Secrets are removed before the text is cut, so that no part
    of one survives at the cut.
    """
    text = str(text)
    for secret in sorted((str(s) for s in secrets if s not in (None, "")), key=len, reverse=True):
        text = text.replace(secret, MASK)
    text = re.sub(r"(://[^:/@\s]*:)[^@/\s]+@", r"\1%s@" % MASK, text)
    text = re.sub(r"(password\s*[=:]\s*)[^\s,;'\"&]+", r"\1%s" % MASK, text, flags=re.IGNORECASE)
    text = re.sub(r"(bearer\s+)[A-Za-z0-9._~+/=-]+", r"\1%s" % MASK, text, flags=re.IGNORECASE)
    if limit and len(text) > limit:
        text = "%s... (%d more characters)" % (text[:limit], len(text) - limit)
    return text
