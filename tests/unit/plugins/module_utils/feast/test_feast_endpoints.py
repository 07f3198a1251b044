# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Store endpoints named in errors carry no credentials (redaction itself: common/test_redact.py)."""

from __future__ import annotations

import os

from ansible_collections.baremetal.mlops.plugins.module_utils.feast.store import (
    environment,
    redis_endpoint,
    url_endpoint,
)


def test_url_endpoint():
    assert url_endpoint("postgresql+psycopg://u:s3cret@10.0.0.5:5433/feast") == "10.0.0.5:5433"
    assert url_endpoint("postgresql+psycopg://u:s3cret@db/feast", default_port="5432") == "db:5432"
    assert url_endpoint("postgresql://[::1]:5432/feast") == "[::1]:5432"
    assert url_endpoint("data/registry.db") is None


def test_redis_endpoint():
    assert redis_endpoint("127.0.0.1:6379,password=s3cret,ssl=true") == "127.0.0.1:6379"
    assert redis_endpoint("password=x,redis1:7000,redis2:7001") == "redis1:7000"
    assert redis_endpoint("") is None


def test_environment_restores():
    os.environ.pop("MLOPS_TEST_FEAST_X", None)
    os.environ["MLOPS_TEST_FEAST_Y"] = "before"
    with environment({"MLOPS_TEST_FEAST_X": "1", "MLOPS_TEST_FEAST_Y": "during"}):
        assert os.environ["MLOPS_TEST_FEAST_X"] == "1" and os.environ["MLOPS_TEST_FEAST_Y"] == "during"
    assert "MLOPS_TEST_FEAST_X" not in os.environ and os.environ["MLOPS_TEST_FEAST_Y"] == "before"
    del os.environ["MLOPS_TEST_FEAST_Y"]
