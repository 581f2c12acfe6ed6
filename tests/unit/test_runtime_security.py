"""Capability sets, user resolution against image files, and path resolution inside a rootfs."""

from __future__ import annotations

import signal

import pytest

from runtime.containers import ContainerError, resolve_user, stop_signal
from runtime.linux import capabilities
from runtime.linux.rootfs import secure_join


def test_default_capabilities_are_dockers_set():
    caps = capabilities.resolve([], [])
    assert capabilities.mask(caps) == 0xA80425FB
    assert "SYS_ADMIN" not in caps and "SYS_MODULE" not in caps


def test_add_and_drop_accept_cap_prefix_and_all():
    caps = capabilities.resolve(["CAP_NET_ADMIN"], ["chown"])
    assert "NET_ADMIN" in caps and "CHOWN" not in caps
    assert capabilities.resolve([], ["ALL"]) == []
    assert capabilities.resolve(["NET_RAW"], ["ALL"]) == []
    assert "SYS_ADMIN" in capabilities.resolve(["ALL"], [])
    assert "SYS_ADMIN" in capabilities.resolve([], [], privileged=True)


def test_unknown_capability_is_rejected():
    with pytest.raises(ValueError, match="unknown capability"):
        capabilities.resolve(["CAP_FLY"], [])


@pytest.fixture
def image(tmp_path):
    etc = tmp_path / "layer" / "etc"
    etc.mkdir(parents=True)
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\nwww:x:33:44:www:/var/www:/bin/false\n")
    (etc / "group").write_text("root:x:0:\nweb:x:44:\nextra:x:70:www,other\nstaff:x:50:\n")
    return [tmp_path / "layer"]


@pytest.mark.parametrize(("spec", "want"), [
    ("", (0, 0, [])), ("www", (33, 44, [70])), ("33", (33, 44, [70])), ("www:staff", (33, 50, [70])),
    ("1000:1000", (1000, 1000, [])), ("root", (0, 0, [])),
])
def test_resolve_user(image, spec, want):
    assert resolve_user(spec, image) == want


def test_unknown_user_is_an_error(image):
    with pytest.raises(ContainerError, match="not found"):
        resolve_user("nobody-here", image)


def test_secure_join_keeps_symlinks_and_dotdot_inside_root(tmp_path):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "abs").symlink_to("/etc/passwd")
    (root / "escape").symlink_to("../../../../outside")
    (root / "rel").symlink_to("etc")
    assert secure_join(str(root), "/etc/abs") == str(root / "etc" / "passwd")
    assert secure_join(str(root), "/escape/x") == str(root / "outside" / "x")
    assert secure_join(str(root), "../../etc") == str(root / "etc")
    assert secure_join(str(root), "/rel/hosts") == str(root / "etc" / "hosts")


def test_secure_join_stops_symlink_loops(tmp_path):
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    with pytest.raises(OSError, match="too many symlinks"):
        secure_join(str(tmp_path), "/a")


def test_stop_signal_names():
    assert stop_signal("") == signal.SIGTERM
    assert stop_signal("SIGQUIT") == signal.SIGQUIT
    assert stop_signal("usr1") == signal.SIGUSR1
    assert stop_signal("9") == 9
    assert stop_signal("SIGBOGUS") == signal.SIGTERM
