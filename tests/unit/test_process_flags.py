import argparse

import pytest

from process.flags import ComponentParser, env_name, parse_bool


def test_env_name_follows_component_and_flag():
    assert env_name("store", "--data-dir") == "TINYKUBE_STORE_DATA_DIR"


def test_environment_supplies_a_default_and_the_command_line_wins(monkeypatch):
    monkeypatch.setenv("TINYKUBE_STORE_DATA_DIR", "/from/env")
    monkeypatch.setenv("TINYKUBE_STORE_SNAPSHOT_COUNT", "7")
    parser = ComponentParser("store")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--snapshot-count", type=int, default=10000)
    assert parser.parse_args([]).data_dir == "/from/env"
    assert parser.parse_args([]).snapshot_count == 7
    assert parser.parse_args(["--data-dir", "/cli"]).data_dir == "/cli"


def test_boolean_flags_from_environment(monkeypatch):
    monkeypatch.setenv("TINYKUBE_SCHEDULER_LEADER_ELECT", "true")
    parser = ComponentParser("scheduler")
    parser.add_argument("--leader-elect", action="store_true")
    assert parser.parse_args([]).leader_elect is True


def test_verbosity_flag_defaults_to_zero():
    parser = ComponentParser("proxy")
    assert parser.parse_args([]).verbosity == 0
    assert parser.parse_args(["-v", "4"]).verbosity == 4
    assert parser.parse_args(["--v=2"]).verbosity == 2


@pytest.mark.parametrize(("raw", "want"), [("true", True), ("False", False), ("1", True), ("off", False)])
def test_parse_bool(raw, want):
    assert parse_bool(raw) is want


def test_parse_bool_rejects_garbage():
    with pytest.raises(argparse.ArgumentTypeError):
        parse_bool("maybe")
