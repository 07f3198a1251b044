# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Read and edit ``/etc/fstab`` and ``mdadm.conf`` as text, idempotently.

Pure functions: text in, text out. Lines we do not manage (comments, other
mounts, ``HOMEHOST``, ``MAILADDR``) are kept byte for byte; an edit changes
or appends exactly one entry, and editing twice gives the same text.

fstab(5): ``fs_spec fs_file fs_vfstype fs_mntops fs_freq fs_passno``,
separated by blanks, ``#`` starts a comment line, blanks inside a path are
written ``\\040``. We mount by ``UUID=``, never by a ``/dev`` name.

mdadm.conf(5): ``ARRAY [devname] key=value ...``; a line starting with
blanks continues the previous one. ``mdadm --detail --brief`` prints
``ARRAY /dev/md/data metadata=1.2 name=host:data UUID=0a1b2c3d:4e5f6071:8293a4b5:c6d7e8f9``.
"""

from __future__ import annotations

import re

from ansible_collections.baremetal.mlops.plugins.module_utils.disk.mounts import unescape

_HEX_RE = re.compile(r"[^0-9a-f]")


def escape_path(path):
    """Write blanks and backslashes of a path the way fstab wants them (``\\040``)."""
    return "".join("\\%03o" % ord(char) if char in " \t\n\\" else char for char in path)


def _join(text, lines):
    """Lines back to text, with a final newline when there is any line."""
    return "\n".join(lines) + "\n" if lines else ""


# -- fstab -----------------------------------------------------------------------------


def fstab_line(fs_uuid, mount_point, fs_type, options, passno=0):
    """``UUID=<uuid> <mount point> <type> <options> 0 <passno>``."""
    return "UUID=%s %s %s %s 0 %d" % (fs_uuid, escape_path(mount_point), fs_type, options, passno)


def fstab_entries(text):
    """Active entries: list of ``{lineno, spec, mount_point, fs_type, options, fields, line}``."""
    result = []
    for lineno, line in enumerate((text or "").splitlines()):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        fields = stripped.split()
        if len(fields) < 2:
            continue
        result.append({
            "lineno": lineno,
            "spec": fields[0],
            "mount_point": unescape(fields[1]),
            "fs_type": fields[2] if len(fields) > 2 else None,
            "options": fields[3] if len(fields) > 3 else None,
            "fields": fields,
            "line": line,
        })
    return result


def fstab_entry(text, mount_point):
    """The active entry for ``mount_point`` (the last one wins, as with mount -a), or None."""
    found = None
    for entry in fstab_entries(text):
        if entry["mount_point"] == mount_point:
            found = entry
    return found


def fstab_uuid(entry):
    """The UUID an entry mounts by (``UUID=...``), lower case, or None."""
    if entry and entry["spec"].upper().startswith("UUID="):
        return entry["spec"][5:].strip("\"'").lower()
    return None


def set_fstab_entry(text, line, mount_point):
    """Make ``line`` the entry for ``mount_point``: ``(new_text, changed)``.

    An existing entry for the mount point is replaced in place (the last one,
    which is the one that counts); otherwise the line is appended. Entries
    are compared field by field, so blank changes are not changes.
    """
    text = text or ""
    lines = text.splitlines()
    entry = fstab_entry(text, mount_point)
    if entry is not None:
        if entry["fields"] == line.split():
            return text, False
        lines[entry["lineno"]] = line
    else:
        lines.append(line)
    return _join(text, lines), True


# -- mdadm.conf ------------------------------------------------------------------------


def mdadm_uuid(uuid):
    """Any spelling of a 128-bit array UUID -> mdadm's ``xxxxxxxx:xxxxxxxx:xxxxxxxx:xxxxxxxx``, or None."""
    digits = _HEX_RE.sub("", (uuid or "").lower())
    if len(digits) != 32:
        return None
    return ":".join(digits[i:i + 8] for i in range(0, 32, 8))


def array_line(devname, metadata, name, uuid):
    """The ARRAY line ``mdadm --detail --brief`` prints for a 1.x array."""
    return "ARRAY %s metadata=%s name=%s UUID=%s" % (devname, metadata, name, mdadm_uuid(uuid))


def _array_blocks(lines):
    """ARRAY entries as ``(first, last, devname, uuid)`` line ranges, continuation lines included."""
    blocks = []
    index = 0
    while index < len(lines):
        words = lines[index].split()
        if not words or words[0] != "ARRAY":
            index += 1
            continue
        last = index
        while last + 1 < len(lines) and lines[last + 1][:1] in (" ", "\t") and lines[last + 1].strip() \
                and not lines[last + 1].lstrip().startswith("#"):
            last += 1
            words.extend(lines[last].split())
        devname = words[1] if len(words) > 1 and "=" not in words[1] else None
        uuid = None
        for word in words[1:]:
            key, sep, value = word.partition("=")
            if sep and key.lower() == "uuid":
                uuid = mdadm_uuid(value)
        blocks.append((index, last, devname, uuid))
        index = last + 1
    return blocks


def array_entries(text):
    """ARRAY entries of an mdadm.conf: list of ``{devname, uuid, line}`` (continuations joined)."""
    lines = (text or "").splitlines()
    return [{"devname": devname, "uuid": uuid, "line": " ".join(" ".join(lines[first:last + 1]).split())}
            for first, last, devname, uuid in _array_blocks(lines)]


def has_array(text, uuid):
    """Whether an ARRAY entry names this array UUID."""
    wanted = mdadm_uuid(uuid)
    return wanted is not None and any(entry["uuid"] == wanted for entry in array_entries(text))


def set_array_line(text, line):
    """Make ``line`` (an ``ARRAY`` line) the entry of its array: ``(new_text, changed)``.

    Entries with the same UUID or the same device name are the same array
    (an older line for a re-created array has the name but not the UUID):
    the first is replaced, the others removed. Otherwise the line is
    appended.
    """
    text = text or ""
    lines = text.splitlines()
    new = _array_blocks([line])
    if not new:
        raise ValueError("not an ARRAY line: %r" % line)
    _first, _last, devname, uuid = new[0]
    same = [block for block in _array_blocks(lines)
            if (uuid and block[3] == uuid) or (devname and block[2] == devname)]
    if len(same) == 1 and " ".join(lines[same[0][0]:same[0][1] + 1]).split() == line.split():
        return text, False
    if not same:
        lines.append(line)
        return _join(text, lines), True
    for first, last, _devname, _uuid in reversed(same[1:]):
        del lines[first:last + 1]
    first, last = same[0][0], same[0][1]
    lines[first:last + 1] = [line]
    return _join(text, lines), True


def remove_fstab_lines(text, lines):
    """Remove the active fstab entries equal (field by field) to one of ``lines``: ``(new_text, changed)``."""
    text = text or ""
    wanted = [line.split() for line in lines]
    doomed = set(entry["lineno"] for entry in fstab_entries(text) if entry["fields"] in wanted)
    if not doomed:
        return text, False
    kept = [line for lineno, line in enumerate(text.splitlines()) if lineno not in doomed]
    return _join(text, kept), True


def remove_array(text, uuid):
    """Remove the ARRAY entries of array ``uuid`` (continuation lines too): ``(new_text, changed)``."""
    text = text or ""
    wanted = mdadm_uuid(uuid)
    lines = text.splitlines()
    doomed = [block for block in _array_blocks(lines) if wanted and block[3] == wanted]
    if not doomed:
        return text, False
    for first, last, _devname, _uuid in reversed(doomed):
        del lines[first:last + 1]
    return _join(text, lines), True


# -- crypttab and systemd units (read only: references the planner refuses to leave dangling) ----------------------


def crypttab_entries(text):
    """Active crypttab(5) entries: ``{lineno, name, source, line}``."""
    result = []
    for lineno, line in enumerate((text or "").splitlines()):
        fields = line.split()
        if len(fields) >= 2 and not fields[0].startswith("#"):
            result.append({"lineno": lineno, "name": fields[0], "source": fields[1], "line": line})
    return result


def unit_what(text):
    """The ``What=`` of a systemd .mount or .swap unit (the last one wins), or None."""
    what = None
    for line in (text or "").splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key.strip() == "What":
            what = value.strip()
    return what
