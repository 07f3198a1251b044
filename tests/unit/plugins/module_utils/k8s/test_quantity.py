"""Kubernetes quantities as bytes: the forms resource.Quantity accepts, and refusals instead of guesses."""

import pytest
from ansible_collections.baremetal.mlops.plugins.module_utils.k8s.quantity import parse_quantity, quantity_bytes


@pytest.mark.parametrize("value, expected", [
    ("512Mi", 512 * 2 ** 20), ("1Gi", 2 ** 30), ("1.5Gi", 3 * 2 ** 29), ("300M", 300 * 10 ** 6),
    ("1k", 1000), ("128974848", 128974848), ("129e6", 129000000), ("123Ki", 123 * 1024),
    (1024, 1024), ("0", 0), ("1500m", 2),  # 1.5 bytes rounds up
])
def test_quantities_in_bytes(value, expected):
    assert quantity_bytes(value) == expected


@pytest.mark.parametrize("value", ["", "512MB", "Mi", "-1Gi", "1 Gi", "1gi", "ten", None, True, -5, "1.2.3Mi"])
def test_non_quantities_are_refused_not_guessed(value):
    assert quantity_bytes(value) == -1
    assert parse_quantity(value) is None
