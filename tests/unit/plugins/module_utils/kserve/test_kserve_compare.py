"""Prediction comparison and served-version logic of module_utils/kserve/endpoint.py."""

from ansible_collections.baremetal.mlops.plugins.module_utils.kserve.endpoint import compare, served_version


def test_numbers_within_tolerance():
    assert compare([0.1 + 0.2], [0.3]) is None
    assert compare([1.0], [1.1]) == "$[0]: expected 1.1, got 1.0"
    assert compare([1.0], [1.1], tolerance=0.2) is None


def test_v2_outputs_against_list_and_dict():
    outputs = {"predict": [0, 1]}
    assert compare(outputs, [0, 1]) is None
    assert compare(outputs, {"predict": [0, 1]}) is None
    assert compare(outputs, {"proba": [0.1]}) == "$: output 'proba' missing (got predict)"
    assert compare(outputs, [1, 1]) == "$[0]: expected 1, got 0"


def test_shapes_and_types():
    assert compare([1, 2], [1]) == "$: expected 1 values, got 2"
    assert compare("a", ["a"]).startswith("$: expected a list")
    assert compare(["x"], ["y"]) == "$[0]: expected 'y', got 'x'"
    assert compare([[1, 2], [3, 4]], [[1, 2], [3, 5]]) == "$[1][1]: expected 5, got 4"


def test_served_version():
    assert served_version(None, "3") == "3"
    assert served_version({"versions": ["1", "2"]}, None) == "2"
    assert served_version({"versions": None}, None) is None
    assert served_version({}, "") is None
