import pytest

from runtime.images.dockerfile import Instruction, exposed_ports, healthcheck, key_values, parse, substitute
from runtime.images.errors import BuildError


def test_continuations_comments_and_the_escape_directive():
    text = "# escape=`\n# a comment\nFROM busybox\nRUN echo a `\n  # dropped\n\n  b\ncmd [\"sh\"]\n"
    insts = parse(text)
    assert [(i.keyword, i.args, i.line) for i in insts] == [
        ("FROM", "busybox", 3), ("RUN", "echo a  b", 4), ("CMD", '["sh"]', 8)]


def test_flags_are_split_off_copy():
    inst = parse("FROM scratch\nCOPY --chown=1:2 a b /dst/\n")[1]
    assert inst.flags == {"chown": "1:2"} and inst.args == "a b /dst/"


@pytest.mark.parametrize(("text", "why"), [
    ("RUN true\n", "no FROM"),
    ("ENV A=1\nFROM scratch\n", "comes before FROM"),
    ("FROM scratch\nONBUILD RUN x\n", "ONBUILD is not supported"),
    ("# escape=x\nFROM scratch\n", "escape must be"),
])
def test_bad_dockerfiles(text, why):
    with pytest.raises(BuildError, match=why):
        parse(text)


def test_exec_and_shell_forms():
    assert Instruction("CMD", '["echo", "hi"]', 1).command() == ["echo", "hi"]
    assert Instruction("CMD", "echo $HOME", 1).command() == ["/bin/sh", "-c", "echo $HOME"]
    assert Instruction("CMD", "[not json", 1).command() == ["/bin/sh", "-c", "[not json"]
    assert Instruction("CMD", "x", 1).command(["bash", "-ec"]) == ["bash", "-ec", "x"]


def test_substitution_rules():
    env = {"A": "1", "EMPTY": ""}
    assert substitute("$A-${A}-${B:-dflt}-${A:+alt}-${B:+alt}-\\$A-$", env) == "1-1-dflt-alt--$A-$"
    assert substitute("${EMPTY:-x}", env) == "x"
    with pytest.raises(BuildError, match="bad variable substitution"):
        substitute("${A", env)


def test_key_value_forms():
    assert key_values(Instruction("ENV", 'A=1 B="two words" C=', 1)) == {"A": "1", "B": "two words", "C": ""}
    assert key_values(Instruction("ENV", "LEGACY some value", 1)) == {"LEGACY": "some value"}
    assert key_values(Instruction("ARG", "NAME", 1)) == {"NAME": ""}
    with pytest.raises(BuildError, match="expected KEY=VALUE"):
        key_values(Instruction("LABEL", "novalue", 1))


def test_expose_and_healthcheck():
    assert exposed_ports(Instruction("EXPOSE", "80 53/udp 8000-8001", 1)) == [
        "80/tcp", "53/udp", "8000/tcp", "8001/tcp"]
    with pytest.raises(BuildError, match="invalid port"):
        exposed_ports(Instruction("EXPOSE", "http", 1))
    check = healthcheck(Instruction("HEALTHCHECK", "CMD wget -q localhost", 1, {"interval": "1m30s", "retries": "3"}))
    assert check == {"Test": ["CMD-SHELL", "wget -q localhost"], "Interval": 90_000_000_000, "Retries": 3}
    assert healthcheck(Instruction("HEALTHCHECK", 'CMD ["true"]', 1))["Test"] == ["CMD", "true"]
    assert healthcheck(Instruction("HEALTHCHECK", "NONE", 1)) == {"Test": ["NONE"]}
