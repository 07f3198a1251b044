# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""nvme-cli JSON across versions: real 2.3 captures (Debian 12) and 2.7/2.16 layouts from nvme-print-json.c."""

from __future__ import annotations

import pytest

from ansible_collections.baremetal.mlops.plugins.module_utils.disk import nvme_cli
from ansible_collections.baremetal.mlops.plugins.module_utils.disk.exceptions import DiskParseError
from ansible_collections.baremetal.mlops.tests.unit.plugins.fake_host import read_fixture


def real(name):
    return read_fixture("nvme", "qemu-deb12", name)


def constructed(name):
    return read_fixture("nvme", "constructed", name)


def test_version():
    assert nvme_cli.parse_version(real("nvme_version.txt")) == {"nvme_cli": "2.3", "libnvme": "1.3"}
    assert nvme_cli.parse_version("") == {"nvme_cli": None, "libnvme": None}


def test_simple_list_2_3():
    listed = nvme_cli.parse_list(real("nvme_list.json"))
    assert sorted(listed) == ["nvme0n1", "nvme1n1", "nvme2n1", "nvme3n1", "nvme4n1", "nvme6n1", "nvme6n2", "nvme7n1"]
    assert listed["nvme6n2"] == {
        "nsid": 2, "used_bytes": 268435456, "maximum_lba": 65536, "physical_size": 268435456, "sector_size": 4096,
        "serial": "BMLABMULTINS7", "model": "QEMU NVMe Ctrl", "firmware": "7.2.22",
    }


def test_verbose_list_2_3_with_multipath_subsystem():
    listed = nvme_cli.parse_list(real("nvme_list_verbose.json"))
    assert listed["nvme6n1"]["serial"] == "BMLABMULTINS7"  # namespace under its controller
    # the multipath head sits under the subsystem, with no controller fields of its own
    assert listed["nvme7n1"]["nsid"] == 1
    assert listed["nvme7n1"]["used_bytes"] == 268435456
    assert listed["nvme7n1"]["serial"] is None


def test_simple_list_2_16_has_generic_path():
    listed = nvme_cli.parse_list(constructed("nvme_list_v2.16.json"))
    assert listed["nvme0n1"]["used_bytes"] == 1245184000
    assert listed["nvme0n1"]["sector_size"] == 4096
    assert listed["nvme1n1"]["serial"] == "S6CKNT0W701235"


def test_verbose_list_2_16_format_version_2_takes_identity_from_paths():
    listed = nvme_cli.parse_list(constructed("nvme_list_verbose_v2.16_multipath.json"))
    assert listed == {"nvme0n1": {
        "nsid": 1, "used_bytes": 2097152, "maximum_lba": 3125627568, "physical_size": 1600321314816,
        "sector_size": 512, "serial": "S6CKNT0W701299", "model": "SAMSUNG MZWLJ1T6HBJR-00007", "firmware": "EPK98B5Q",
    }}


def test_list_as_non_root_is_empty():
    # nvme-cli 2.3 run by an unprivileged user: rc 0 and no devices
    assert nvme_cli.parse_list(real("nvme_list_nonroot.json")) == {}
    assert nvme_cli.parse_list("") == {}


@pytest.mark.parametrize("text", ["Failed to scan topology: No such file or directory", '{"Devices": {}}', "[]"])
def test_list_garbage_is_a_parse_error(text):
    with pytest.raises(DiskParseError):
        nvme_cli.parse_list(text)


def test_smart_log_2_3_counters_are_strings():
    smart = nvme_cli.parse_smart_log(real("smart_log_nvme0.json"), "/dev/nvme0")
    assert smart["temperature_kelvin"] == 323 and smart["temperature_celsius"] == 50
    assert smart["data_units_read"] == 31  # "31" in the JSON
    assert smart["critical_warning"] == 0
    assert smart["percent_used"] == 0
    assert smart["power_on_hours"] == 0
    assert smart["media_errors"] == 0
    assert smart["available_spare"] == 0


def test_smart_log_human_form_nests_critical_warning():
    assert nvme_cli.parse_smart_log(real("smart_log_nvme0_human.json"))["critical_warning"] == 0
    assert nvme_cli.parse_smart_log(constructed("smart_log_v2.7_human.json"))["critical_warning"] == 0


def test_smart_log_2_7_capital_temperature_and_numeric_counters():
    smart = nvme_cli.parse_smart_log(constructed("smart_log_v2.7_worn.json"))
    assert smart == {
        "critical_warning": 4, "temperature_kelvin": 318, "temperature_celsius": 45, "available_spare": 7,
        "available_spare_threshold": 10, "percent_used": 104, "media_errors": 12, "num_err_log_entries": 341,
        "power_on_hours": 35712, "power_cycles": 87, "unsafe_shutdowns": 23, "data_units_read": 912345678,
        "data_units_written": 1987654321,
    }


@pytest.mark.parametrize("text", ["", "/dev/nvme0: Permission denied", '{"temperature": 300}'])
def test_smart_log_garbage_is_a_parse_error_naming_the_device(text):
    with pytest.raises(DiskParseError) as excinfo:
        nvme_cli.parse_smart_log(text, "/dev/nvme0")
    assert excinfo.value.device == "/dev/nvme0"
    assert "nvme-cli" in excinfo.value.message
