"""RUN steps of ``tinykube image build``: each one a real container of ours, its changes a layer."""

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.images.build import Builder
from runtime.images.compose import write_image
from runtime.images.defaults import BUSYBOX, busybox_layer
from runtime.images.errors import BuildError
from runtime.images.oci import ImageConfig
from runtime.images.reference import parse
from runtime.images.store import ImageStore

pytestmark = [
    pytest.mark.skipif(not BUSYBOX.exists(), reason="needs busybox-static"),
    pytest.mark.skipif(os.geteuid() != 0, reason="containers need root"),
]


@pytest.fixture
def store(tmp_path: Path) -> ImageStore:
    store = ImageStore(tmp_path / "store")
    store.commit(write_image(store.content, ImageConfig(cmd=["sh"]), [busybox_layer(store.content)]),
                 [parse("busybox")])
    return store


@contextlib.contextmanager
def overlay(lowerdirs: list[Path], merged: Path) -> Iterator[Path]:
    """The image as a container sees it: a read-only overlay of its snapshots."""
    merged.mkdir()
    option = "lowerdir=" + ":".join(str(p) for p in lowerdirs)
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", option, str(merged)], check=True)
    try:
        yield merged
    finally:
        subprocess.run(["umount", str(merged)], check=True)


async def test_run_steps_become_layers_with_whiteouts_and_opaque_dirs(tmp_path: Path, store: ImageStore):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    lines: list[str] = []
    dockerfile = """FROM busybox
ARG GREETING=hello
ENV WHERE=/srv
RUN mkdir -p $WHERE/cache/old && echo "$GREETING from $(hostname)" > $WHERE/greeting && rm /etc/group && id -u
RUN rm -rf $WHERE/cache && mkdir $WHERE/cache && touch $WHERE/cache/new && echo step-two
USER nobody
RUN id -u > /tmp/uid
"""
    (ctx / "Dockerfile").write_text(dockerfile)
    result = await Builder(store, progress=lines.append).build(ctx, [parse("ran")])
    assert result.layers_built == 3
    assert "0" in lines and "step-two" in lines
    with overlay(store.rootfs("ran").lowerdirs, tmp_path / "merged") as merged:
        assert (merged / "srv/greeting").read_text() == "hello from tinykube-build\n"
        assert not (merged / "etc/group").exists() and (merged / "etc/passwd").exists()
        assert sorted(os.listdir(merged / "srv/cache")) == ["new"]  # the opaque dir hides cache/old
        assert (merged / "tmp/uid").read_text() == "65534\n"
    again = await Builder(store).build(ctx, [parse("ran2")])
    assert (again.layers_built, again.layers_cached) == (0, 3)
    assert not list((store.root / "build").iterdir())
    with pytest.raises(BuildError, match="returned a non-zero code: 3"):
        (ctx / "Dockerfile").write_text("FROM busybox\nRUN exit 3\n")
        await Builder(store).build(ctx, [parse("fails")])
