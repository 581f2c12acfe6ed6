"""crictl's presentation: tabwriter layout, human durations and sizes, config loading."""

from __future__ import annotations

import json

from protos.cri import api_pb2 as cri
from runtime.crictl import _size, human_duration, load_config, status_exit_code, table
from runtime.streaming import exit_status


def test_table_uses_crictl_column_widths():
    out = table(["POD ID", "STATE"], [["abc", "Ready"], ["a" * 25, "NotReady"]])
    lines = out.splitlines()
    assert lines[0] == "POD ID" + " " * 22 + "STATE"
    assert lines[1].startswith("abc" + " " * 25 + "Ready")
    assert lines[2] == "a" * 25 + "   NotReady"


def test_human_duration_matches_docker_units():
    assert human_duration(0.2) == "Less than a second"
    assert human_duration(5) == "5 seconds"
    assert human_duration(61) == "About a minute"
    assert human_duration(60 * 10) == "10 minutes"
    assert human_duration(3600) == "About an hour"
    assert human_duration(3 * 86400) == "3 days"


def test_size_is_decimal_with_four_significant_digits():
    assert _size(0) == "0B"
    assert _size(2_048_000) == "2.048MB"
    assert _size(999) == "999B"


def test_load_config_accepts_crictl_json_and_yaml(tmp_path):
    (tmp_path / "pod.json").write_text(json.dumps({"metadata": {"name": "p", "namespace": "n"},
                                                   "port_mappings": [{"container_port": 80, "host_port": 8080}],
                                                   "unknownField": 1}))
    (tmp_path / "ctr.yaml").write_text("metadata:\n  name: c\nimage:\n  image: busybox\ncommand: [sh]\n"
                                       "linux:\n  security_context:\n    namespace_options:\n      pid: CONTAINER\n")
    pod = load_config(str(tmp_path / "pod.json"), cri.PodSandboxConfig())
    ctr = load_config(str(tmp_path / "ctr.yaml"), cri.ContainerConfig())
    assert isinstance(pod, cri.PodSandboxConfig) and isinstance(ctr, cri.ContainerConfig)
    assert pod.port_mappings[0].host_port == 8080
    assert ctr.linux.security_context.namespace_options.pid == cri.CONTAINER


def test_exec_status_round_trip():
    assert status_exit_code(exit_status(0)) == 0
    assert status_exit_code(exit_status(42)) == 42
    assert exit_status(3)["reason"] == "NonZeroExitCode"
