"""``tinykube image`` end to end: build (with RUN), tag, export, rm, import, inspect — docker's grammar."""

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
pytestmark = [
    pytest.mark.skipif(not Path("/bin/busybox").exists(), reason="needs busybox-static"),
    pytest.mark.skipif(os.geteuid() != 0, reason="snapshots hold whiteout device nodes; RUN needs namespaces"),
]


def image(root: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "tinykube"), "image", "--root", str(root), *argv], capture_output=True,
                          text=True, timeout=120)


def ok(root: Path, *argv: str) -> str:
    result = image(root, *argv)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_build_export_remove_import(tmp_path: Path):
    root = tmp_path / "store"
    ok(root, "build-defaults", "--out", str(tmp_path / "layout"), "--import")
    ctx = tmp_path / "ctx"
    (ctx / "www").mkdir(parents=True)
    (ctx / "www/index.html").write_text("hello from tinykube\n")
    (ctx / "Dockerfile").write_text("""FROM busybox
COPY www /var/www/
RUN ln -s /var/www/index.html /var/www/alias.html
EXPOSE 8080
ENTRYPOINT ["httpd", "-f", "-p", "8080", "-h", "/var/www"]
""")
    built = ok(root, "build", "-t", "web:v1", str(ctx))
    assert "Step 3/5 : RUN ln -s /var/www/index.html /var/www/alias.html" in built
    assert "Successfully tagged web:v1" in built
    config = json.loads(ok(root, "inspect", "web:v1"))["config"]["config"]
    assert config["Entrypoint"][0] == "httpd" and "Cmd" not in config and config["ExposedPorts"] == {"8080/tcp": {}}
    assert "Using cache" in ok(root, "build", "-t", "web:v2", str(ctx))

    ok(root, "tag", "web:v1", "127.0.0.1:5000/web:v1")
    archive = tmp_path / "web.tar"
    ok(root, "export", "web:v1", "-o", str(archive))
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
    assert manifest[0]["RepoTags"] == ["web:v1"] and len(manifest[0]["Layers"]) == 3

    assert ok(root, "rm", "web:v1").strip() == "Untagged: web:v1"
    assert ok(root, "rm", "web:v2").strip() == "Untagged: web:v2"  # a fully cached build is the same image
    removed = ok(root, "rm", "127.0.0.1:5000/web:v1").strip()
    assert removed.startswith("Deleted: sha256:")
    assert "web" not in ok(root, "ls")

    assert ok(root, "import", str(archive)).strip() == "Loaded image: web:v1"
    listing = ok(root, "ls").splitlines()
    assert listing[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert any(line.split()[:2] == ["web", "v1"] for line in listing)
    assert len(ok(root, "ls", "-q").split()) == 3


def test_errors_are_one_line_without_traceback(tmp_path: Path):
    root = tmp_path / "store"
    (tmp_path / "ctx").mkdir()
    cases = [
        (["build", "-t", "x", str(tmp_path / "ctx")], "cannot read"),
        (["rm", "nothing"], "not found"),
        (["tag", "nothing", "x"], "not found"),
        (["import", str(tmp_path / "missing.tar")], "no such file"),
        (["export", "nothing", "-o", str(tmp_path / "out.tar")], "not found"),
        (["pull", "Upper/Case:tag:bad"], "invalid image reference"),
    ]
    for argv, text in cases:
        result = image(root, *argv)
        assert result.returncode == 1, argv
        assert result.stderr.startswith("error: ") and text in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
