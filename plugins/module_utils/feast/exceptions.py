# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Errors of the Feast backend (feature repository, registry, online and offline stores).

``host`` is where the problem is: the feature repository's path, or the
store's endpoint (``host:port``, never credentials).
"""

from __future__ import annotations

from ansible_collections.baremetal.mlops.plugins.module_utils.common.exceptions import MlopsError


class FeastError(MlopsError):
    """Base of every Feast backend error."""


class FeastRepoError(FeastError):
    """The feature repository cannot be loaded: feature_store.yaml or a definitions file is wrong."""

    def __init__(self, msg, **kwargs):
        kwargs.setdefault("component", "feast repository")
        super().__init__(msg, **kwargs)


class FeastRegistryError(FeastError):
    """The registry cannot be reached or read or written."""

    def __init__(self, msg, **kwargs):
        kwargs.setdefault("component", "feast registry")
        super().__init__(msg, **kwargs)


class FeastOnlineStoreError(FeastError):
    """The online store cannot be reached, read or written."""

    def __init__(self, msg, **kwargs):
        kwargs.setdefault("component", "feast online store")
        super().__init__(msg, **kwargs)


class FeastOfflineStoreError(FeastError):
    """The offline store cannot be reached or read."""

    def __init__(self, msg, **kwargs):
        kwargs.setdefault("component", "feast offline store")
        super().__init__(msg, **kwargs)


class FeastTimeoutError(FeastError):
    """A Feast operation did not finish within the module's timeout."""
