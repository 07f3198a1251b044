# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filters for S3 values in roles.

``{{ 'Models_2026' | baremetal.mlops.s3_bucket_problems }}`` -> the reasons it
is not a valid bucket name (an empty list when it is).
"""

from __future__ import annotations

from ansible_collections.baremetal.mlops.plugins.module_utils.s3.names import bucket_name_problems


class FilterModule(object):
    def filters(self):
        return {"s3_bucket_problems": bucket_name_problems}
