"""S3 bucket names (plugins/module_utils/s3/names.py): AWS's naming rules for general purpose buckets."""
import pytest

from ansible_collections.baremetal.mlops.plugins.module_utils.s3.names import bucket_name_problems


@pytest.mark.parametrize("name", ["mlflow", "feast-offline", "models.2026", "abc", "a" * 63, "0-backups"])
def test_valid_names(name):
    assert bucket_name_problems(name) == []


@pytest.mark.parametrize("name, reason", [
    ("ab", "has 2 characters, not 3 to 63"),
    ("a" * 64, "has 64 characters, not 3 to 63"),
    ("Models", "may hold only lowercase letters, digits, dots and hyphens"),
    ("my_bucket", "may hold only lowercase letters, digits, dots and hyphens"),
    ("-models", "must begin and end with a letter or digit"),
    ("models.", "must begin and end with a letter or digit"),
    ("my..models", "has two adjacent dots"),
    ("192.168.5.4", "is shaped like an IP address"),
    ("xn--models", "begins with the reserved prefix xn--"),
    ("models-s3alias", "ends with the reserved suffix -s3alias"),
    ("", "has 0 characters, not 3 to 63"),
])
def test_each_rule_names_the_reason(name, reason):
    assert reason in bucket_name_problems(name)


def test_every_reason_at_once_and_non_strings():
    assert len(bucket_name_problems("-My_Bucket..")) == 3
    assert bucket_name_problems(None) == ["None is not a string"]
