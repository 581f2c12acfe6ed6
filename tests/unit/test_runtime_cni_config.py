"""CNI network selection and results, and the plugin protocol against a fake plugin."""

from __future__ import annotations

import json
import stat

import pytest

from runtime.cni import CNI, CNIError, load_network, pod_ips


def test_first_config_in_lexical_order_wins_and_conf_is_wrapped(tmp_path):
    (tmp_path / "20-b.conflist").write_text(json.dumps({"cniVersion": "1.0.0", "name": "b",
                                                       "plugins": [{"type": "bridge"}]}))
    (tmp_path / "10-a.conf").write_text(json.dumps({"cniVersion": "0.4.0", "name": "a", "type": "ptp"}))
    (tmp_path / "05-broken.conflist").write_text("{not json")
    assert load_network(str(tmp_path)) == {"cniVersion": "0.4.0", "name": "a",
                                           "plugins": [{"cniVersion": "0.4.0", "name": "a", "type": "ptp"}]}
    assert load_network(str(tmp_path / "missing")) is None


def test_pod_ips_from_every_result_version():
    assert pod_ips({"ips": [{"address": "10.1.0.5/24"}, {"address": "fd00::5/64"}]}) == ["10.1.0.5", "fd00::5"]
    assert pod_ips({"ip4": {"ip": "10.2.0.3/16"}}) == ["10.2.0.3"]
    assert pod_ips({}) == []


@pytest.fixture
def plugin_dir(tmp_path):
    """A fake plugin that logs its environment and stdin, and answers with a result naming itself."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "fake"
    script.write_text(
        "#!/bin/sh\n"
        f"log={tmp_path}/calls\n"
        'conf=$(cat)\n'
        'echo "$CNI_COMMAND $CNI_CONTAINERID $CNI_NETNS $CNI_IFNAME $CNI_ARGS $conf" >> $log\n'
        'case "$conf" in *fail*) echo \'{"code": 7, "msg": "told to fail"}\'; exit 1;; esac\n'
        'echo \'{"cniVersion": "1.0.0", "ips": [{"address": "10.9.0.2/24"}]}\'\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return bin_dir


def _calls(tmp_path):
    return (tmp_path / "calls").read_text().splitlines()


def test_add_chains_prev_result_and_filters_runtime_config(tmp_path, plugin_dir):
    net = {"cniVersion": "1.0.0", "name": "n", "plugins": [
        {"type": "fake"}, {"type": "fake", "capabilities": {"portMappings": True}}]}
    cni = CNI([str(plugin_dir)], str(tmp_path))
    result = cni.add(net, "cid", "/run/netns/x", args={"K8S_POD_NAME": "p"},
                     runtime_config={"portMappings": [{"hostPort": 80}], "bandwidth": {}})
    assert pod_ips(result) == ["10.9.0.2"]
    first, second = _calls(tmp_path)
    assert first.startswith("ADD cid /run/netns/x eth0 IgnoreUnknown=1;K8S_POD_NAME=p ")
    first_conf = json.loads(first.split(" ", 5)[5])
    second_conf = json.loads(second.split(" ", 5)[5])
    assert "prevResult" not in first_conf and "runtimeConfig" not in first_conf
    assert second_conf["prevResult"]["ips"][0]["address"] == "10.9.0.2/24"
    assert second_conf["runtimeConfig"] == {"portMappings": [{"hostPort": 80}]}
    assert second_conf["name"] == "n" and second_conf["cniVersion"] == "1.0.0"


def test_delete_runs_in_reverse_with_cached_result_even_after_a_failure(tmp_path, plugin_dir):
    net = {"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "fake", "tag": "one"},
                                                           {"type": "fake", "tag": "fail"}]}
    cni = CNI([str(plugin_dir)], str(tmp_path))
    with pytest.raises(CNIError, match="told to fail"):
        cni.delete(net, "cid", "/run/netns/x", prev_result={"ips": [{"address": "10.9.0.2/24"}]})
    calls = _calls(tmp_path)
    assert ['"fail"' in calls[0], '"one"' in calls[1]] == [True, True]
    assert all(c.startswith("DEL ") and "prevResult" in c for c in calls)


def test_missing_plugin_is_a_clear_error(tmp_path):
    with pytest.raises(CNIError, match="not found"):
        CNI([str(tmp_path)], str(tmp_path)).add({"name": "n", "plugins": [{"type": "nope"}]}, "c", "/x")


def test_check_runs_in_order_with_the_cached_result(tmp_path, plugin_dir):
    net = {"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "fake", "tag": "a"}, {"type": "fake", "tag": "b"}]}
    cached = {"cniVersion": "1.0.0", "ips": [{"address": "10.9.0.2/24"}]}
    CNI([str(plugin_dir)], str(tmp_path)).check(net, "cid", "/run/netns/x", cached)
    calls = _calls(tmp_path)
    assert [c.split()[0] for c in calls] == ["CHECK", "CHECK"]
    assert ['"a"' in calls[0], '"b"' in calls[1]] == [True, True]
    assert all(json.loads(c.split(" ", 5)[5])["prevResult"] == cached for c in calls)
