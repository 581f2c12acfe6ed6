import pytest

from cni.plugin_server import decode_request, encode_answer


def test_request_carries_cni_variables_then_the_config():
    env, stdin = decode_request(b"CNI_COMMAND=ADD\0CNI_ARGS=a=b;c=d\0\0{\"x\": 1}")
    assert env == {"CNI_COMMAND": "ADD", "CNI_ARGS": "a=b;c=d"}
    assert stdin == b'{"x": 1}'
    assert decode_request(b"\0") == ({}, b"")


@pytest.mark.parametrize("bad", [b"CNI_COMMAND=ADD", b"PATH=/bin\0\0{}", b"CNI_COMMAND\0\0{}"])
def test_malformed_requests_are_refused(bad):
    with pytest.raises(ValueError):
        decode_request(bad)


def test_answer_is_the_exit_code_then_stdout():
    assert encode_answer(0, '{"a": 1}') == b'0\n{"a": 1}\n'
    assert encode_answer(1, "") == b"1\n"
