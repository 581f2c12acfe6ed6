"""The shared client and leader-election flags, with upstream names, defaults and Go durations."""

from __future__ import annotations

import argparse

import pytest
import yaml

from client.flags import (
    add_client_flags,
    add_leader_election_flags,
    client_config_from_args,
    leader_election_from_args,
    parse_duration,
)
from process.flags import ComponentParser


@pytest.mark.parametrize(("text", "seconds"), [
    ("15s", 15.0), ("1m30s", 90.0), ("500ms", 0.5), ("2h", 7200.0), ("1.5s", 1.5), ("10", 10.0), ("250us", 0.00025),
])
def test_go_durations(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["", "s", "15x", "1m 30s", "-5s", "abc"])
def test_bad_durations(bad):
    with pytest.raises(argparse.ArgumentTypeError):
        parse_duration(bad)


def parser() -> ComponentParser:
    p = ComponentParser("scheduler")
    add_client_flags(p)
    add_leader_election_flags(p, resource_name="kube-scheduler")
    return p


def test_leader_election_defaults_and_overrides():
    cfg = leader_election_from_args(parser().parse_args([]), identity="me")
    assert cfg is not None
    assert (cfg.name, cfg.namespace, cfg.identity) == ("kube-scheduler", "kube-system", "me")
    assert (cfg.lease_duration, cfg.renew_deadline, cfg.retry_period) == (15.0, 10.0, 2.0)
    args = parser().parse_args(["--leader-elect-lease-duration=30s", "--leader-elect-renew-deadline=20s",
                                "--leader-elect-retry-period=4s", "--leader-elect-resource-namespace=x"])
    cfg = leader_election_from_args(args)
    assert cfg is not None
    assert (cfg.lease_duration, cfg.renew_deadline, cfg.retry_period, cfg.namespace) == (30.0, 20.0, 4.0, "x")
    assert "_" in cfg.identity                      # hostname_uuid
    assert leader_election_from_args(parser().parse_args(["--leader-elect=false"])) is None


def test_master_overrides_kubeconfig_server_with_failover_list(tmp_path):
    path = tmp_path / "kc"
    path.write_text(yaml.safe_dump({
        "clusters": [{"name": "c", "cluster": {"server": "https://a:6443"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "namespace": "ns"}}],
        "current-context": "x"}))
    cfg = client_config_from_args(parser().parse_args(["--kubeconfig", str(path)]))
    assert cfg.servers == ["https://a:6443"]
    cfg = client_config_from_args(parser().parse_args(
        ["--kubeconfig", str(path), "--master", "https://10.0.0.1:6443/, https://10.0.0.2:6443"]))
    assert cfg.servers == ["https://10.0.0.1:6443", "https://10.0.0.2:6443"]
    assert cfg.namespace == "ns"
