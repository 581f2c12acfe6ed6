import json

import pytest

from cni import jsonwire, spec
from cni.plugin import run

BASE_ENV = {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c1", "CNI_IFNAME": "eth0", "CNI_NETNS": "/run/netns/x",
            "CNI_PATH": "/opt/cni/bin"}
CONFIG = {"cniVersion": "1.0.0", "name": "net", "type": "tinykube-cni", "ipam": {"subnet": "10.244.1.0/24"}}


def test_version_lists_supported_versions():
    code, out = run({"CNI_COMMAND": "VERSION"}, b"")
    assert code == 0
    assert json.loads(out)["supportedVersions"] == list(spec.SUPPORTED_VERSIONS)


@pytest.mark.parametrize(("env", "stdin", "code", "msg"), [
    ({"CNI_COMMAND": "FROB"}, b"{}", spec.INVALID_ENVIRONMENT, "unknown CNI_COMMAND"),
    (BASE_ENV, b"{not json", spec.DECODE_FAILURE, "not JSON"),
    (BASE_ENV, b"[]", spec.DECODE_FAILURE, "JSON object"),
    (BASE_ENV, json.dumps({**CONFIG, "cniVersion": "9.9.9"}).encode(), spec.INCOMPATIBLE_VERSION, "incompatible"),
    (BASE_ENV, json.dumps({**CONFIG, "name": ""}).encode(), spec.INVALID_CONFIG, "'name'"),
    ({**BASE_ENV, "CNI_CONTAINERID": ""}, json.dumps(CONFIG).encode(), spec.INVALID_ENVIRONMENT, "CNI_CONTAINERID"),
    ({**BASE_ENV, "CNI_NETNS": ""}, json.dumps(CONFIG).encode(), spec.INVALID_ENVIRONMENT, "CNI_NETNS"),
    ({**BASE_ENV, "CNI_ARGS": "novalue"}, json.dumps(CONFIG).encode(), spec.INVALID_ENVIRONMENT, "CNI_ARGS"),
    (BASE_ENV, json.dumps({**CONFIG, "ipam": {}}).encode(), spec.INVALID_CONFIG, "ipam.subnet"),
    (BASE_ENV, json.dumps({**CONFIG, "ipam": {"subnet": "10.244.1.0/33"}}).encode(), spec.INVALID_CONFIG, "range"),
])
def test_bad_calls_get_the_specs_error_json(env, stdin, code, msg):
    exit_code, out = run(env, stdin)
    assert exit_code == 1
    err = json.loads(out)
    assert err["code"] == code
    assert msg in err["msg"]


def test_del_without_netns_is_allowed_by_the_spec():
    inv = spec.parse({**BASE_ENV, "CNI_COMMAND": "DEL", "CNI_NETNS": ""}, json.dumps(CONFIG).encode())
    assert inv.netns == ""


def test_cni_args_are_parsed():
    inv = spec.parse({**BASE_ENV, "CNI_ARGS": "K8S_POD_NAME=web;K8S_POD_NAMESPACE=default"},
                     json.dumps(CONFIG).encode())
    assert inv.args == {"K8S_POD_NAME": "web", "K8S_POD_NAMESPACE": "default"}


@pytest.mark.parametrize("value", [
    {"cniVersion": "1.0.0", "ips": [{"address": "10.244.1.5/24"}], "mtu": 1450, "hairpin": True, "dns": {}},
    [1, -2.5, 3e20, None, False, "caf\u00e9\n\"q\""], "text", 0, {"nested": [{"deep": [[]]}]},
])
def test_the_plugins_json_codec_reads_and_writes_what_json_does(value):
    assert jsonwire.dumps(value) == json.dumps(value)
    assert jsonwire.loads(json.dumps(value).encode()) == value
    assert jsonwire.loads(" \n" + json.dumps(value, indent=1) + "\n ") == value


@pytest.mark.parametrize("text", [b"", b"  ", b"{", b"{} trailing", b"[1,]", b'{"a" 1}', b"\xff"])
def test_the_plugins_json_codec_refuses_what_json_refuses(text):
    with pytest.raises(ValueError):
        json.loads(text)
    with pytest.raises(ValueError):
        jsonwire.loads(text)
    code, out = run(BASE_ENV, text)
    assert code == 1 and json.loads(out)["code"] == spec.DECODE_FAILURE
