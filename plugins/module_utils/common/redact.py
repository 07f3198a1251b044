# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one scrubber for text that leaves a module: a server's error body, an exception's message.

:func:`redact` removes the secrets a module holds (passwords, tokens, keys),
passwords embedded in URLs (``scheme://user:password@host``), ``password=``
pairs and bearer tokens, and bounds the text, so that a server's own error
can travel into a report without carrying a secret or a page of HTML.

A secret is removed in every form it can take on its way into a message
(:func:`secret_forms`: as given, URL-quoted, base64 and hex), and so is
every piece of one of at least :data:`MIN_FRAGMENT` characters: a parser
that cuts a secret apart (a password with ``@`` placed raw in a URL comes
back as a "host"; issue 21) leaves pieces, not the whole. Text that happens
to contain such a piece is masked too: a message loses a word rather than
keep part of a secret.
"""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import quote, quote_plus, unquote

MASK = "********"
DEFAULT_LIMIT = 600
# Pieces of a secret shorter than this are left alone (they would mask ordinary words).
MIN_FRAGMENT = 4


def one_line(text):
    """``text`` on one line: blank lines and SQLAlchemy's "(Background on this error at: ...)" links dropped."""
    lines = (line.strip() for line in str(text).splitlines())
    return " ".join(line for line in lines if line and not line.startswith("(Background on this error"))


def secret_forms(secret):
    """The forms of ``secret`` that text may carry: as given, percent-decoded, URL-quoted, base64, hex."""
    secret = str(secret)
    raw = secret.encode("utf-8", "surrogateescape")
    encoded = base64.b64encode(raw).decode()
    forms = {secret, unquote(secret), quote(secret, safe=""), quote(secret), quote_plus(secret), encoded,
             encoded.rstrip("="), base64.urlsafe_b64encode(raw).decode().rstrip("="), binascii.hexlify(raw).decode()}
    return sorted(forms, key=len, reverse=True)


def _mask_pieces(text, forms):
    """``text`` with every run of MIN_FRAGMENT+ characters that is a piece of one of ``forms`` masked (longest
    piece first at each position)."""
    pieces = set()
    for form in forms:
        pieces.add(form)
        for size in range(MIN_FRAGMENT, len(form)):
            pieces.update(form[i:i + size] for i in range(len(form) - size + 1))
    if not pieces:
        return text
    longest = max(len(p) for p in pieces)
    starts = {p[:MIN_FRAGMENT] for p in pieces} | {p[0] for p in forms if p and len(p) < MIN_FRAGMENT}
    out, i = [], 0
    while i < len(text):
        if text[i:i + MIN_FRAGMENT] not in starts and text[i] not in starts:
            out.append(text[i])
            i += 1
            continue
        for size in range(min(longest, len(text) - i), 0, -1):
            if (size >= MIN_FRAGMENT or text[i:i + size] in forms) and text[i:i + size] in pieces:
                out.append(MASK)
                i += size
                break
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def redact(text, secrets=(), limit=None):
    """``text`` without the ``secrets`` given, URL passwords, ``password=`` pairs and bearer tokens.

    ``limit``: keep at most that many characters (then "..." and how many
    were cut). Secrets are removed before the text is cut, so that no part
    of one survives at the cut.
    """
    text = str(text)
    forms = set()
    for secret in secrets:
        if secret not in (None, ""):
            forms.update(secret_forms(secret))
    text = _mask_pieces(text, forms)
    text = re.sub(r"(://[^:/@\s]*:)[^@/\s]+@", r"\1%s@" % MASK, text)
    text = re.sub(r"(password\s*[=:]\s*)[^\s,;'\"&]+", r"\1%s" % MASK, text, flags=re.IGNORECASE)
    text = re.sub(r"(bearer\s+)[A-Za-z0-9._~+/=-]+", r"\1%s" % MASK, text, flags=re.IGNORECASE)
    if limit and len(text) > limit:
        text = "%s... (%d more characters)" % (text[:limit], len(text) - limit)
    return text
