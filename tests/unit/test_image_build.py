import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from runtime.images.build import Builder, BuildResult
from runtime.images.compose import write_image
from runtime.images.errors import BuildError, ImageNotFound
from runtime.images.layer import LayerBuilder
from runtime.images.oci import ImageConfig
from runtime.images.reference import parse
from runtime.images.store import ImageStore

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="snapshots hold whiteout device nodes")


@pytest.fixture
def store(tmp_path: Path) -> ImageStore:
    store = ImageStore(tmp_path / "store")
    with LayerBuilder() as b:
        for d, mode in (("etc", 0o755), ("tmp", 0o1777)):
            b.add_dir(d, mode)
        b.add_file("etc/passwd", b"root:x:0:0::/root:/bin/sh\nweb:x:33:33::/var/www:/bin/false\n")
        b.add_file("etc/group", b"root:x:0:\nwww:x:44:\n")
        layer = b.commit(store.content)
    config = ImageConfig(cmd=["sh"], env=["PATH=/bin"], entrypoint=[])
    store.commit(write_image(store.content, config, [layer]), [parse("base")])
    return store


async def build(store: ImageStore, context: Path, dockerfile: str, tag: str = "out", **kw) -> BuildResult:
    (context / "Dockerfile").write_text(dockerfile)
    return await Builder(store).build(context, [parse(tag)], **kw)


def top(store: ImageStore, ref: str = "out") -> Path:
    return store.rootfs(ref).lowerdirs[0]


async def test_config_instructions_and_args(tmp_path, store):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    result = await build(store, ctx, """
ARG VERSION=1
FROM base
ARG VERSION
ARG WHO=world
ENV GREETING="hello ${WHO}" V=$VERSION
LABEL org.example.version=$V "quoted key"=yes
EXPOSE 8080 53/udp
USER web:www
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s CMD ["true"]
WORKDIR /srv
WORKDIR app
CMD ["./run", "$GREETING"]
""", build_args={"WHO": "tinykube"})
    config = store.config("out")
    assert config.env == ["PATH=/bin", "GREETING=hello tinykube", "V=1"]
    assert config.labels == {"org.example.version": "1", "quoted key": "yes"}
    assert config.exposed_ports == ["53/udp", "8080/tcp"]
    assert (config.user, config.stop_signal, config.working_dir) == ("web:www", "SIGINT", "/srv/app")
    assert config.healthcheck == {"Test": ["CMD", "true"], "Interval": 5_000_000_000}
    assert config.cmd == ["./run", "$GREETING"]  # exec form: no substitution, as Docker
    assert stat.S_ISDIR(os.lstat(top(store) / "srv/app").st_mode)
    assert result.layers_built == 2  # one per WORKDIR that had to create its directory


@pytest.mark.parametrize(("lines", "entrypoint", "cmd"), [
    (["ENTRYPOINT [\"/bin/echo\"]"], ["/bin/echo"], []),  # inherited CMD is dropped
    (["CMD [\"a\"]", "ENTRYPOINT [\"/bin/echo\"]"], ["/bin/echo"], ["a"]),  # CMD set in this file survives
    (["ENTRYPOINT [\"/bin/echo\"]", "CMD [\"b\"]"], ["/bin/echo"], ["b"]),
    (["ENTRYPOINT exec top -b"], ["/bin/sh", "-c", "exec top -b"], []),
    (["CMD echo hi"], [], ["/bin/sh", "-c", "echo hi"]),
    (["SHELL [\"/bin/ash\", \"-eo\", \"pipefail\", \"-c\"]", "CMD echo hi"], [],
     ["/bin/ash", "-eo", "pipefail", "-c", "echo hi"]),
    ([], [], ["sh"]),
])
async def test_entrypoint_and_cmd_combine_as_docker_does(tmp_path, store, lines, entrypoint, cmd):
    await build(store, tmp_path, "FROM base\n" + "\n".join(lines) + "\n")
    config = store.config("out")
    assert (config.entrypoint, config.cmd) == (entrypoint, cmd)


async def test_copy_add_and_the_layer_cache(tmp_path, store):
    ctx = tmp_path / "ctx"
    (ctx / "site").mkdir(parents=True)
    (ctx / "site/index.html").write_text("<h1>hi</h1>")
    (ctx / "run.sh").write_text("#!/bin/sh\n")
    (ctx / "run.sh").chmod(0o755)
    bundle = io.BytesIO()
    with tarfile.open(fileobj=bundle, mode="w:gz") as t:
        info = tarfile.TarInfo("lib/data.txt")
        info.size = 4
        t.addfile(info, io.BytesIO(b"data"))
    (ctx / "bundle.tgz").write_bytes(bundle.getvalue())
    dockerfile = """FROM base
COPY site /var/www/
COPY --chown=web:www run.sh /usr/local/bin/
ADD bundle.tgz /opt/
COPY bundle.tgz /keep/
"""
    first = await build(store, ctx, dockerfile)
    assert (first.layers_built, first.layers_cached) == (4, 0)
    dirs = store.rootfs("out").lowerdirs
    assert (dirs[3] / "var/www/index.html").read_text() == "<h1>hi</h1>"
    script = os.lstat(dirs[2] / "usr/local/bin/run.sh")
    assert (script.st_uid, script.st_gid, stat.S_IMODE(script.st_mode)) == (33, 44, 0o755)
    assert (dirs[1] / "opt/lib/data.txt").read_text() == "data"
    assert (dirs[0] / "keep/bundle.tgz").read_bytes() == bundle.getvalue()

    again = await build(store, ctx, dockerfile, tag="again")
    assert (again.layers_built, again.layers_cached) == (0, 4)
    assert store.get("again").id == store.get("out").id

    (ctx / "run.sh").write_text("#!/bin/sh\necho changed\n")
    changed = await build(store, ctx, dockerfile, tag="changed")
    assert (changed.layers_built, changed.layers_cached) == (3, 1)  # the first COPY still hits the cache
    assert (await build(store, ctx, dockerfile, tag="nocache", use_cache=False)).layers_built == 4


async def test_from_scratch_with_tmp_permissions_from_the_base(tmp_path, store):
    (tmp_path / "f").write_text("x")
    await build(store, tmp_path, "FROM base\nCOPY f /tmp/f\n")
    assert stat.S_IMODE(os.lstat(top(store) / "tmp").st_mode) == 0o1777  # parent keeps the base's mode
    await build(store, tmp_path, "FROM scratch\nCOPY f /f\nENTRYPOINT [\"/f\"]\n", tag="mini")
    assert store.get("mini").layers and store.config("mini").entrypoint == ["/f"]


@pytest.mark.parametrize(("dockerfile", "error", "why"), [
    ("FROM base\nRUN echo hi\n", BuildError, r"line 2: RUN: the command \['/bin/sh', '-c', 'echo hi'\] returned a "
                                              "non-zero code: 127"),  # base has no /bin/sh
    ("FROM base\nCOPY ../outside /x\n", BuildError, "outside the build context"),
    ("FROM base\nCOPY missing /x\n", BuildError, "not found in the build context"),
    ("FROM base\nCOPY --chown=nobody f /x\n", BuildError, "not found in the image's /etc/passwd"),
    ("FROM base\nADD http://example.com/x /x\n", BuildError, "URL is not supported"),
    ("FROM nothing-here\n", ImageNotFound, "not stored locally"),
    ("FROM base\nFROM base\n", BuildError, "multi-stage"),
])
async def test_build_errors_name_the_line(tmp_path, store, dockerfile, error, why):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "f").write_text("x")
    (tmp_path / "outside").write_text("secret")
    with pytest.raises(error, match=why):
        await build(store, ctx, dockerfile)
    with pytest.raises(ImageNotFound):
        store.get("out")
