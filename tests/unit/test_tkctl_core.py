"""tkctl's pure cores: tabwriter layout, kubectl's JSON/YAML encodings, JSONPath, flag grammar, rollout status."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tkctl import jsonpath
from tkctl.describe_sections import smart_label
from tkctl.encode import to_compact_json, to_json, to_yaml
from tkctl.errors import UsageError
from tkctl.flags import Parser, add_dry_run, add_global_flags, duration_seconds
from tkctl.kubeconfig_cache import cached_reader
from tkctl.rollout_status import RolloutFailed, status
from tkctl.table import TabWriter, format_rows
from tkctl.typed import typed


def test_get_tables_pad_to_widest_cell_plus_three_with_a_minimum_of_six() -> None:
    assert format_rows([["NAME", "READY", "AGE"], ["a", "1/1", "5s"]]) == "NAME   READY   AGE\na      1/1     5s\n"


def test_empty_trailing_cells_keep_their_padding_as_tabwriter_does() -> None:
    assert format_rows([["A", "B", ""], ["long-name", "x", ""]]) == "A           B     \nlong-name   x     \n"


def test_describe_blocks_end_at_a_line_without_cells() -> None:
    w = TabWriter(min_width=0, padding=2)
    w.write("Name:\tweb\nNamespace:\tdefault\nPod Template:\n  Labels:\tapp=web\n")
    assert w.render() == "Name:       web\nNamespace:  default\nPod Template:\n  Labels:  app=web\n"


def test_json_sorts_keys_indents_four_and_escapes_html_like_go() -> None:
    want = '{\n    "a": [\n        1\n    ],\n    "b": "\\u003cx\\u003e\\u0026"\n}\n'
    assert to_json({"b": "<x>&", "a": [1]}) == want
    assert to_compact_json({"b": 1, "a": "é"}) == '{"a":"é","b":1}'


@pytest.mark.parametrize(("value", "line"), [
    ("1", 'v: "1"'), ("yes", 'v: "yes"'), ("y", 'v: "y"'), ("", 'v: ""'), ("null", 'v: "null"'),
    ("2024-01-01T00:00:00Z", 'v: "2024-01-01T00:00:00Z"'), ("a: b", "v: 'a: b'"), ("*star", "v: '*star'"),
    ("plain", "v: plain"), ("<x>&", "v: <x>&"),
])
def test_yaml_quotes_scalars_as_go_yaml_does(value: str, line: str) -> None:
    assert to_yaml({"v": value}) == line + "\n"


def test_yaml_writes_multiline_strings_as_literal_blocks_and_never_anchors() -> None:
    shared = {"app": "x"}
    assert to_yaml({"a": shared, "b": shared, "s": "l1\nl2"}) == "a:\n  app: x\nb:\n  app: x\ns: |-\n  l1\n  l2\n"


OBJ = {"kind": "List", "items": [
    {"metadata": {"name": "a", "labels": {"k.io/x": "1"}}, "status": {"phase": "Running", "n": 2}},
    {"metadata": {"name": "b"}, "status": {"phase": "Pending", "n": 5}},
]}


@pytest.mark.parametrize(("template", "out"), [
    ("{.items[*].metadata.name}", "a b"),
    ('{range .items[*]}{.metadata.name}{"\\t"}{.status.phase}{"\\n"}{end}', "a\tRunning\nb\tPending\n"),
    ('{.items[?(@.status.phase=="Running")].metadata.name}', "a"),
    ("{.items[?(@.status.n>3)].metadata.name}", "b"),
    ("{..name}", "a b"),
    ("{.items[-1:].metadata.name}", "b"),
    ("{.items[0].metadata.labels['k.io/x']}", "1"),
    ("{.items[0].metadata}", '{"labels":{"k.io/x":"1"},"name":"a"}'),
    ("name={.items[1].metadata.name}!", "name=b!"),
])
def test_jsonpath_templates(template: str, out: str) -> None:
    assert jsonpath.execute(template, OBJ) == out


def test_jsonpath_missing_keys_are_empty_unless_disallowed() -> None:
    assert jsonpath.execute("{.nope}", OBJ) == ""
    with pytest.raises(jsonpath.JSONPathError, match="nope is not found"):
        jsonpath.execute("{.nope}", OBJ, allow_missing=False)
    with pytest.raises(jsonpath.JSONPathError):
        jsonpath.parse("{.items[*]")


def _parser() -> Parser:
    p = Parser("delete")
    add_global_flags(p)
    add_dry_run(p)
    p.flag("--wait", default=True)
    p.add_argument("args", nargs="*")
    return p


def test_go_style_booleans_optional_values_and_interspersed_positionals() -> None:
    o = _parser().parse(["pods", "-n", "x", "p1", "--wait=false", "--dry-run", "p2"])
    assert (o.args, o.namespace, o.wait, o.dry_run) == (["pods", "p1", "p2"], "x", False, "client")
    assert _parser().parse(["pods", "--wait=true", "--dry-run=server"]).dry_run == "server"


@pytest.mark.parametrize(("argv", "message"), [
    (["--bogus"], "unknown flag: --bogus"),
    (["-Z"], "unknown shorthand flag: 'Z' in -Z"),
    (["--wait=maybe"], 'invalid argument "maybe" for "--wait" flag'),
])
def test_flag_errors_use_kubectl_wording(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        _parser().parse(argv)


def test_durations() -> None:
    assert duration_seconds("1h30m", "--t") == 5400.0
    assert duration_seconds("250ms", "--t") == 0.25
    assert duration_seconds("15", "--t") == 15.0
    with pytest.raises(UsageError):
        duration_seconds("5x", "--t")


def _deployment(**status_fields: int) -> dict[str, object]:
    return {"metadata": {"name": "web", "generation": 2}, "spec": {"replicas": 3},
            "status": {"observedGeneration": 2, **status_fields}}


def test_rollout_status_messages_follow_kubectls_order() -> None:
    assert status("Deployment", _deployment(updatedReplicas=1))[0] == (
        'Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...\n')
    assert status("Deployment", _deployment(updatedReplicas=3, replicas=4))[0].endswith(
        "1 old replicas are pending termination...\n")
    assert status("Deployment", _deployment(updatedReplicas=3, replicas=3, availableReplicas=2))[0].endswith(
        "2 of 3 updated replicas are available...\n")
    assert status("Deployment", _deployment(updatedReplicas=3, replicas=3, availableReplicas=3)) == (
        'deployment "web" successfully rolled out\n', True)
    stale = {"metadata": {"name": "web", "generation": 3}, "spec": {}, "status": {"observedGeneration": 2}}
    assert status("Deployment", stale) == ("Waiting for deployment spec update to be observed...\n", False)
    stuck = _deployment()
    stuck["status"] = {"observedGeneration": 2, "conditions": [{"type": "Progressing",
                                                                "reason": "ProgressDeadlineExceeded"}]}
    with pytest.raises(RolloutFailed, match="exceeded its progress deadline"):
        status("Deployment", stuck)


def test_watch_rows_stay_aligned_with_what_was_printed_before() -> None:
    widths: list[int] = []
    assert format_rows([["NAME", "DATA", "AGE"], ["watched", "0", "0s"]], widths) == \
        "NAME      DATA   AGE\nwatched   0      0s\n"
    assert format_rows([["watched", "0", "3s"]], widths) == "watched   0      3s\n"


def test_built_objects_print_in_go_struct_order_with_maps_sorted_and_nulls_dropped() -> None:
    obj = {"status": {}, "spec": {"type": "ClusterIP", "selector": {"b": "1", "a": "2"},
                                  "ports": [{"targetPort": 80, "port": 80, "name": "x"}]},
           "metadata": {"labels": {"z": "1", "a": "2"}, "name": "svc", "namespace": "ns"},
           "kind": "Service", "apiVersion": "v1"}
    out = typed(obj)
    assert list(out) == ["kind", "apiVersion", "metadata", "spec", "status"]
    assert list(out["metadata"]) == ["name", "namespace", "creationTimestamp", "labels"]
    assert out["metadata"]["creationTimestamp"] is None and list(out["metadata"]["labels"]) == ["a", "z"]
    assert list(out["spec"]) == ["ports", "selector", "type"] and list(out["spec"]["selector"]) == ["a", "b"]
    assert list(out["spec"]["ports"][0]) == ["name", "port", "targetPort"]
    assert typed({"kind": "Widget", "b": 1, "a": 2}) == {"kind": "Widget", "b": 1, "a": 2}


@pytest.mark.parametrize(("field", "label"), [
    ("creationTimestamp", "Creation Timestamp"), ("uid", "UID"), ("apiVersion", "API Version"),
    ("podCIDR", "Pod CIDR"), ("PDFLoader", "PDF Loader"), ("ipv4Address", "ipv4Address"), ("x_y", "x_y"),
])
def test_generic_describe_labels_fields_as_kubectl_smart_labels(field: str, label: str) -> None:
    assert smart_label(field) == label


def test_parsed_kubeconfig_is_reused_until_the_file_changes(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text("apiVersion: v1\nkind: Config\ncurrent-context: one\n")
    read = cached_reader(tmp_path / "cache")
    assert read(config)["current-context"] == "one"
    [entry] = (tmp_path / "cache" / "kubeconfig").iterdir()
    assert entry.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "cache" / "kubeconfig").stat().st_mode & 0o777 == 0o700
    entry.write_text(entry.read_text().replace('"one"', '"from-cache"'))
    assert read(config)["current-context"] == "from-cache"
    config.write_text("apiVersion: v1\nkind: Config\ncurrent-context: two\n")
    os.utime(config, ns=(1, 1))
    assert read(config)["current-context"] == "two"
