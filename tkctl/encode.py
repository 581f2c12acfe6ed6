"""Objects as kubectl prints them: JSON like Go's ``json.MarshalIndent`` and YAML like ``sigs.k8s.io/yaml``.

kubectl decodes into unstructured maps, so keys come out sorted; Go's encoder escapes ``<``, ``>``
and ``&``; go-yaml double-quotes a string that would otherwise read as another type (``"1"``,
``"yes"``, timestamps) and single-quotes one that is merely not plain-safe (``'a: b'``).
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

_HTML = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_HTML_RE = re.compile("[<>&\u2028\u2029]")

# YAML 1.1 scalars go-yaml (v2) would read as something other than a string.
_NON_STRING = re.compile(
    r"""^(?:[-+]?(?:0|[1-9][0-9_]*)|[-+]?0[0-7_]+|[-+]?0x[0-9a-fA-F_]+|[-+]?0b[01_]+
    |[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+
    |[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?
    |y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF
    |~|null|Null|NULL
    |[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?
       (?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)?)$""",
    re.VERBOSE,
)


def to_json(obj: Any, *, sort_keys: bool = True) -> str:
    """``json.MarshalIndent(obj, "", "    ")`` as kubectl prints it (with the trailing newline).

    ``sort_keys=False`` keeps the keys' order, for objects already in Go struct order (tkctl.typed).
    """
    text = json.dumps(obj, indent=4, sort_keys=sort_keys, ensure_ascii=False, separators=(",", ": "))
    return _HTML_RE.sub(lambda m: _HTML[m.group()], text) + "\n"


class _GoDumper(yaml.SafeDumper):
    """PyYAML's emitter with go-yaml's choice of scalar styles (its block layout already matches)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True  # go-yaml never writes anchors: a shared dict is written out each time


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    if value == "" or _NON_STRING.match(value):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


def _represent_none(dumper: yaml.SafeDumper, _: None) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:null", "null")


_GoDumper.add_representer(str, _represent_str)
_GoDumper.add_representer(type(None), _represent_none)


def to_yaml(obj: Any) -> str:
    """The YAML kubectl prints for ``obj`` (keys sorted, 2-space indent, lines folded at 80 columns)."""
    return yaml.dump(obj, Dumper=_GoDumper, default_flow_style=False, sort_keys=True, allow_unicode=True, width=80)


def to_compact_json(obj: Any) -> str:
    """``json.Marshal(obj)``: compact, sorted keys, HTML-escaped."""
    text = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return _HTML_RE.sub(lambda m: _HTML[m.group()], text)
