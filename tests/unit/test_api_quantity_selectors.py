"""Quantity canonical forms, label and field selectors."""

import pytest

from api import fields, labels
from api.catalog import REGISTRY
from api.quantity import Quantity, QuantityError, canonicalize


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("100m", "100m"),
        ("0.5", "500m"),
        ("1.5", "1500m"),
        ("1000", "1k"),
        ("1e3", "1e3"),
        ("1.5Gi", "1536Mi"),
        ("2048Ki", "2Mi"),
        ("1024", "1024"),
        ("0", "0"),
        ("1Mi", "1Mi"),
        ("512Ki", "512Ki"),
        ("1000Ki", "1000Ki"),
        ("0.1Ki", "102400m"),
        ("1n", "1n"),
        ("0.0000000001", "1n"),
        ("-1.5", "-1500m"),
        ("12e6", "12e6"),
        ("1.5Ki", "1536"),
        ("1024Mi", "1Gi"),
        ("1.5k", "1500"),
        ("-1Ki", "-1Ki"),
        ("1e-3", "1e-3"),
        ("0.5Gi", "512Mi"),
        ("12.345678901", "12345678901n"),
        ("1M", "1M"),
    ],
)
def test_canonical_form(text, canonical):
    assert canonicalize(text) == canonical


@pytest.mark.parametrize("text", ["", "Gi", "1K", "1.2.3", "abc", "1Gii", "--1"])
def test_invalid_quantities(text):
    with pytest.raises(QuantityError):
        Quantity.parse(text)


def test_quantity_comparison():
    assert Quantity.parse("1Gi") > Quantity.parse("1G")
    assert Quantity.parse("1.5Gi") == Quantity.parse("1536Mi")
    assert Quantity.parse("250m").milli_value() == 250
    assert Quantity.parse("1Ki").int_value() == 1024


def test_label_selector_grammar():
    sel = labels.parse("a=b, c==d,e!=f, g in (x, y), h notin (z), i, !j")
    assert sel.matches({"a": "b", "c": "d", "g": "y", "i": ""})
    assert not sel.matches({"a": "b", "c": "d", "g": "y", "i": "", "j": "1"})
    assert not sel.matches({"a": "b", "c": "d", "g": "w", "i": ""})
    assert not sel.matches({"a": "b", "c": "d", "g": "x", "i": "", "h": "z"})
    assert labels.parse("").matches({"x": "y"})
    assert str(labels.parse("b=1,a in (y,x)")) == "b=1,a in (x,y)"


@pytest.mark.parametrize("text", ["a in (x", "=b", "a=b,", "a b", "Bad Key=x", "a in ()"])
def test_label_selector_errors(text):
    with pytest.raises(labels.SelectorError):
        labels.parse(text)


def test_label_selector_objects():
    sel = {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a"]}]}
    assert labels.matches(sel, {"app": "web", "tier": "a"})
    assert not labels.matches(sel, {"app": "web"})
    assert labels.matches({}, {"anything": "1"})
    assert not labels.matches(None, {"anything": "1"})
    assert labels.format_label_selector(sel) == "app=web,tier in (a)"


def test_field_selectors_per_kind():
    pods = REGISTRY.require("", "v1", "pods")
    sel = fields.compile_selector(pods, "spec.nodeName=node1,status.phase!=Failed,metadata.namespace=default")
    pod = {
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {"nodeName": "node1"},
        "status": {"phase": "Running"},
    }
    assert sel.matches(pod)
    assert not sel.matches({**pod, "status": {"phase": "Failed"}})
    assert fields.single_value(sel, "spec.nodeName") == "node1"
    with pytest.raises(fields.FieldSelectorError, match=r"field label not supported: spec\.foo"):
        fields.compile_selector(pods, "spec.foo=bar")
    events = REGISTRY.require("", "v1", "events")
    ev = {"metadata": {"name": "e"}, "involvedObject": {"name": "p", "uid": "u"}, "source": {"component": "kubelet"}}
    assert fields.compile_selector(events, "involvedObject.name=p,involvedObject.uid=u,source=kubelet").matches(ev)
    nodes = REGISTRY.require("", "v1", "nodes")
    assert fields.compile_selector(nodes, "spec.unschedulable=false").matches({"metadata": {"name": "n"}})
    with pytest.raises(fields.FieldSelectorError):
        fields.compile_selector(nodes, "metadata.namespace=x")


def test_escaped_field_selector_values():
    reqs = fields.parse(r"metadata.name=a\,b")
    assert [(r.field, r.value, r.negate) for r in reqs] == [("metadata.name", "a,b", False)]
