"""``tinykube image build``: a Dockerfile subset executed against the image store, with a layer cache.

RUN runs in one of our containers (see run_step.py) on the snapshots of the image built so far.

Every instruction extends a cache key (the previous key, the instruction, and for COPY/ADD a hash
of the source files' paths, modes and contents). A COPY/ADD/RUN/WORKDIR whose key is in the cache and
whose layer blob is still stored reuses that layer instead of writing a new one; when the whole
chain hits, the build yields the very image it gave before.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import posixpath
import secrets
import shlex
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime.images import dockerfile
from runtime.images.compose import write_image
from runtime.images.dockerfile import Instruction
from runtime.images.errors import BuildError, ImageNotFound, UnsafeLayer
from runtime.images.layer import BuiltLayer, LayerBuilder
from runtime.images.oci import Descriptor, ImageConfig
from runtime.images.reference import Reference, parse
from runtime.images.run_step import container_spec
from runtime.images.store import EMPTY_SNAPSHOT, ImageRecord, ImageStore
from runtime.images.unpack import clean_name

Puller = Callable[[Reference], Awaitable[ImageRecord]]
_CACHE_FILE = "build-cache.json"


@dataclass
class BuildResult:
    """The built image and how many of its new layers came from the cache."""

    record: ImageRecord
    layers_built: int
    layers_cached: int


@dataclass
class _Stage:
    config: ImageConfig
    base_layers: list[Descriptor]
    lowerdirs: list[Path]
    key: str
    layers: list[BuiltLayer] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    args: dict[str, str] = field(default_factory=dict)
    shell: list[str] = field(default_factory=lambda: list(dockerfile.DEFAULT_SHELL))
    cmd_set: bool = False
    made_dirs: set[str] = field(default_factory=set)
    built: int = 0
    cached: int = 0


class Builder:
    """Builds one Dockerfile into ``store``; ``pull`` fetches a FROM image that is not stored locally."""

    def __init__(self, store: ImageStore, pull: Puller | None = None,
                 progress: Callable[[str], None] = lambda line: None) -> None:
        self.store = store
        self.pull = pull
        self.progress = progress
        self._cache_path = store.root / _CACHE_FILE
        self._holder = f"build-{os.getpid()}-{secrets.token_hex(4)}"

    async def build(self, context: Path, tags: list[Reference], dockerfile_path: Path | None = None,
                    build_args: Mapping[str, str] | None = None, use_cache: bool = True) -> BuildResult:
        """Build the Dockerfile in ``context`` (or ``dockerfile_path``) and name the image ``tags``."""
        instructions, context = _read(context, dockerfile_path)
        try:
            return await self._build(instructions, context, tags, dict(build_args or {}), use_cache)
        finally:
            self.store.release(self._holder)  # RUN's snapshots of layers no image kept

    async def _build(self, instructions: list[Instruction], context: Path, tags: list[Reference],
                     given: dict[str, str], use_cache: bool) -> BuildResult:
        global_args: dict[str, str] = {}
        cache = self._load_cache() if use_cache else {}
        stage: _Stage | None = None
        for number, inst in enumerate(instructions, 1):
            self.progress(f"Step {number}/{len(instructions)} : {inst.keyword} {inst.args}")
            if inst.keyword == "FROM":
                if stage is not None:
                    raise BuildError(f"{inst.where()}: multi-stage builds are not supported")
                stage = await self._from(inst, global_args)
            elif inst.keyword == "ARG":
                for name, default in dockerfile.key_values(inst).items():
                    value = given.get(name, global_args.get(name, default) if stage else default)
                    (stage.args if stage else global_args)[name] = value
            else:
                assert stage is not None  # parse() guarantees FROM comes first
                self._step(stage, inst, context, cache)
        assert stage is not None
        for name in given:
            if name not in stage.args and name not in global_args:
                self.progress(f"[Warning] build argument {name} was not consumed")
        cached_image = cache.get(f"image:{stage.key}")
        if cached_image is not None and self.store.content.has(cached_image["manifest"]):
            digest = cached_image["manifest"]  # every step hit the cache: the same image, as Docker gives
            self.store.content.touch(digest)
        else:
            stage.config.created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            digest = write_image(self.store.content, stage.config, stage.layers, stage.base_layers, stage.history)
            cache[f"image:{stage.key}"] = {"manifest": digest}
        if use_cache:
            self._save_cache(cache)
        record = self.store.commit(digest, tags)
        self.progress(f"Successfully built {record.id[7:19]}")
        for tag in tags:
            self.progress(f"Successfully tagged {tag.familiar()}")
        return BuildResult(record, stage.built, stage.cached)

    # ---- instructions -------------------------------------------------------------------------------

    async def _from(self, inst: Instruction, global_args: dict[str, str]) -> _Stage:
        words = dockerfile.substitute(inst.args, global_args, inst.where()).split()
        if len(words) not in (1, 3) or (len(words) == 3 and words[1].upper() != "AS"):
            raise BuildError(f"{inst.where()}: expected FROM IMAGE [AS NAME]")
        if words[0] == "scratch":
            return _Stage(ImageConfig(), [], [], "scratch")
        ref = parse(words[0])
        record = self.store.find(str(ref))
        if record is None:
            if self.pull is None:
                raise ImageNotFound(f"{inst.where()}: image {ref.familiar()} is not stored locally")
            record = await self.pull(ref)
        config = self.store.config(record)
        return _Stage(config, list(self.store.manifest(record).layers), self.store.rootfs(record.id).lowerdirs,
                      record.id)

    def _step(self, stage: _Stage, inst: Instruction, context: Path, cache: dict[str, dict[str, Any]]) -> None:
        env = {**stage.args, **_env_dict(stage.config.env)}
        args = dockerfile.substitute(inst.args, env, inst.where()) if inst.keyword in dockerfile.SUBSTITUTED \
            else inst.args
        inst = Instruction(inst.keyword, args, inst.line, inst.flags)
        config = stage.config
        layer: Callable[[], LayerBuilder] | None = None
        extra = ""
        match inst.keyword:
            case "ENV":
                for name, value in dockerfile.key_values(inst).items():
                    config.env = [e for e in config.env if e.partition("=")[0] != name] + [f"{name}={value}"]
            case "LABEL":
                config.labels.update(dockerfile.key_values(inst))
            case "EXPOSE":
                config.exposed_ports = sorted(set(config.exposed_ports) | set(dockerfile.exposed_ports(inst)))
            case "USER":
                if not inst.args.strip():
                    raise BuildError(f"{inst.where()} needs a user")
                config.user = inst.args.strip()
            case "STOPSIGNAL":
                config.stop_signal = inst.args.strip()
            case "VOLUME":
                volumes = inst.exec_form() or inst.args.split()
                config.volumes = sorted(set(config.volumes) | set(volumes))
            case "SHELL":
                shell = inst.exec_form()
                if not shell:
                    raise BuildError(f"{inst.where()} must be a JSON array, e.g. SHELL [\"/bin/sh\", \"-c\"]")
                stage.shell = shell
            case "CMD":
                config.cmd = inst.command(stage.shell)
                stage.cmd_set = True
            case "ENTRYPOINT":
                config.entrypoint = inst.command(stage.shell) if inst.args.strip() not in ("", "[]") else []
                if not stage.cmd_set:
                    config.cmd = []  # Docker: ENTRYPOINT drops the CMD inherited from the base image
            case "HEALTHCHECK":
                config.healthcheck = dockerfile.healthcheck(inst)
            case "WORKDIR":
                config.working_dir = posixpath.normpath(posixpath.join(config.working_dir or "/", inst.args.strip()))
                if self._missing(stage, config.working_dir):
                    layer = lambda: self._mkdir_layer(stage, config.working_dir)  # noqa: E731
            case "COPY" | "ADD":
                sources, dest, owner = self._copy_plan(stage, inst, context)
                extra = _content_hash(sources) + json.dumps([dest, owner])
                layer = lambda: self._copy_layer(stage, inst, sources, dest, owner)  # noqa: E731
            case "RUN":
                argv = inst.command(stage.shell)
                extra = json.dumps(argv)
                layer = lambda: self._run_layer(stage, inst, argv)  # noqa: E731
            case _:
                raise BuildError(f"{inst.where()} is not supported")
        stage.key = hashlib.sha256(f"{stage.key}\0{inst.keyword}\0{inst.args}\0{sorted(inst.flags.items())}"
                                   f"\0{extra}".encode()).hexdigest()
        stage.history.append({"created_by": f"{inst.keyword} {inst.args}", **({} if layer else {"empty_layer": True})})
        if layer is not None:
            self._add_layer(stage, cache, layer)

    def _add_layer(self, stage: _Stage, cache: dict[str, dict[str, Any]], make: Callable[[], LayerBuilder]) -> None:
        hit = cache.get(stage.key)
        if hit is not None and self.store.content.has(hit["digest"]):
            self.store.content.touch(hit["digest"])
            built = BuiltLayer(Descriptor(hit["media_type"], hit["digest"], hit["size"]), hit["diff_id"])
            stage.cached += 1
            self.progress(" ---> Using cache")
        else:
            with make() as builder:
                built = builder.commit(self.store.content)
            stage.built += 1
            cache[stage.key] = {"digest": built.descriptor.digest, "size": built.descriptor.size,
                                "media_type": built.descriptor.media_type, "diff_id": built.diff_id}
        stage.layers.append(built)
        self.progress(f" ---> {built.diff_id[7:19]}")

    def _missing(self, stage: _Stage, path: str) -> bool:
        rel = path.strip("/")
        return bool(rel) and rel not in stage.made_dirs and _lookup(stage.lowerdirs, rel) is None

    def _parents(self, stage: _Stage, builder: LayerBuilder, rel: str) -> None:
        """Directory entries for every parent of ``rel``, with the base image's metadata where it has them."""
        parts = rel.strip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            parent = "/".join(parts[:i])
            st = _lookup(stage.lowerdirs, parent)
            if st is not None and stat.S_ISDIR(st.st_mode):
                builder.add_dir(parent, st.st_mode, uid=st.st_uid, gid=st.st_gid, mtime=int(st.st_mtime))
            else:
                builder.add_dir(parent)
            stage.made_dirs.add(parent)

    def _mkdir_layer(self, stage: _Stage, path: str) -> LayerBuilder:
        builder = LayerBuilder()
        rel = path.strip("/")
        self._parents(stage, builder, rel)
        builder.add_dir(rel)
        stage.made_dirs.add(rel)
        return builder

    def _copy_plan(self, stage: _Stage, inst: Instruction, context: Path) -> tuple[list[Path], str, tuple[int, int]]:
        if "from" in inst.flags:
            raise BuildError(f"{inst.where()}: --from (multi-stage builds) is not supported")
        if "chmod" in inst.flags:
            raise BuildError(f"{inst.where()}: --chmod is not supported")
        unknown = set(inst.flags) - {"chown"}
        if unknown:
            raise BuildError(f"{inst.where()}: unknown flag --{sorted(unknown)[0]}")
        words = inst.exec_form() or shlex.split(inst.args)
        if len(words) < 2:
            raise BuildError(f"{inst.where()} needs at least one source and a destination")
        *patterns, dest = words
        sources: list[Path] = []
        for pattern in patterns:
            if inst.keyword == "ADD" and pattern.startswith(("http://", "https://", "git@")):
                raise BuildError(f"{inst.where()}: ADD from a URL is not supported (builds have no network access)")
            matches = sorted(context.glob(pattern.lstrip("/"))) if any(c in pattern for c in "*?[") \
                else [context / pattern.lstrip("/")]
            for match in matches:
                resolved = match.resolve()
                if not resolved.is_relative_to(context):
                    raise BuildError(f"{inst.where()}: {pattern} is outside the build context")
                if not match.exists():
                    raise BuildError(f"{inst.where()}: {pattern} not found in the build context")
                sources.append(match)
        if not sources:
            raise BuildError(f"{inst.where()}: no source files match {' '.join(patterns)}")
        if not dest.startswith("/"):
            dest = posixpath.join(stage.config.working_dir or "/", dest) + ("/" if dest.endswith("/") else "")
        if len(sources) > 1 and not dest.endswith("/"):
            raise BuildError(f"{inst.where()}: with several sources the destination must end with /")
        owner = _owner(inst.flags.get("chown", ""), stage.lowerdirs, inst.where())
        return sources, dest, owner

    def _copy_layer(self, stage: _Stage, inst: Instruction, sources: list[Path], dest: str,
                    owner: tuple[int, int]) -> LayerBuilder:
        builder = LayerBuilder()
        try:
            for source in sources:
                is_dir = source.is_dir()
                into_dir = dest.endswith("/") or is_dir
                target = dest.rstrip("/") + (f"/{source.name}" if into_dir and not is_dir else "")
                extract = inst.keyword == "ADD" and not is_dir and tarfile.is_tarfile(source)
                if extract:
                    target = dest.rstrip("/") or "/"
                self._parents(stage, builder, target + ("/x" if (is_dir or extract) else ""))
                if extract:
                    _extract_into(builder, source, target.strip("/"), owner if "chown" in inst.flags else None)
                else:
                    builder.add_host_path(source, target, owner=owner)
        except BaseException:
            builder.close()
            raise
        return builder

    def _run_layer(self, stage: _Stage, inst: Instruction, argv: list[str]) -> LayerBuilder:
        """Run ``argv`` in a container on the image so far; its upperdir becomes the layer."""
        new = self.store.hold_layers(self._holder, [(x.descriptor.digest, x.diff_id) for x in stage.layers])
        lowerdirs = [*reversed(new), *stage.lowerdirs] or [self.store.snapshot_dir / EMPTY_SNAPSHOT]
        uid, gid = _owner(stage.config.user, lowerdirs, inst.where())
        names = {e.partition("=")[0] for e in stage.config.env}
        env = [*stage.config.env, *(f"{k}={v}" for k, v in stage.args.items() if k not in names)]
        work_root = self.store.root / "build"
        work_root.mkdir(exist_ok=True)
        workspace = Path(tempfile.mkdtemp(dir=work_root))
        try:
            spec = container_spec(lowerdirs, workspace, argv=argv, env=env, cwd=stage.config.working_dir,
                                  uid=uid, gid=gid)
            (workspace / "spec.json").write_text(spec.to_json())
            with subprocess.Popen([sys.executable, "-m", "runtime.images.run_step", str(workspace / "spec.json")],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True, errors="replace") as proc:
                assert proc.stdout is not None  # asked for with PIPE
                for line in proc.stdout:
                    self.progress(line.rstrip("\n"))
            if proc.returncode != 0:
                raise BuildError(f"{inst.where()}: the command {argv} returned a non-zero code: {proc.returncode}")
            builder = LayerBuilder()
            builder.add_upperdir(workspace / "upper")
            return builder
        finally:
            shutil.rmtree(workspace, ignore_errors=True)

    # ---- cache ---------------------------------------------------------------------------------------

    def _load_cache(self) -> dict[str, dict[str, Any]]:
        try:
            value = json.loads(self._cache_path.read_bytes())
        except (FileNotFoundError, ValueError):
            return {}
        return value if isinstance(value, dict) else {}

    def _save_cache(self, cache: dict[str, dict[str, Any]]) -> None:
        tmp = self._cache_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(cache, sort_keys=True))
        tmp.replace(self._cache_path)


def _read(context: Path, dockerfile_path: Path | None) -> tuple[list[Instruction], Path]:
    """The parsed Dockerfile and the resolved context directory."""
    path = dockerfile_path or context / "Dockerfile"
    if not context.is_dir():
        raise BuildError(f"build context {context} is not a directory")
    try:
        return dockerfile.parse(path.read_text()), context.resolve()
    except OSError as err:
        raise BuildError(f"cannot read {path}: {err.strerror}") from None


def _env_dict(env: list[str]) -> dict[str, str]:
    return dict(e.partition("=")[::2] for e in env)


def _lookup(lowerdirs: list[Path], rel: str) -> os.stat_result | None:
    """The topmost layer's entry for ``rel`` (None when absent or whited out)."""
    for layer in lowerdirs:
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            st = os.lstat(layer / rel)
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                return None
            return st
    return None


def _owner(spec: str, lowerdirs: list[Path], where: str) -> tuple[int, int]:
    """``--chown=user[:group]`` by number or by name in the base image's /etc/passwd and /etc/group."""
    if not spec:
        return 0, 0
    user, _, group = spec.partition(":")

    def lookup(name: str, filename: str) -> int:
        if name.isdigit():
            return int(name)
        for layer in lowerdirs:
            with contextlib.suppress(OSError):
                for line in (layer / "etc" / filename).read_text().splitlines():
                    fields = line.split(":")
                    if len(fields) > 2 and fields[0] == name and fields[2].isdigit():
                        return int(fields[2])
        raise BuildError(f"{where}: {name!r} not found in the image's /etc/{filename}")

    uid = lookup(user, "passwd")
    return uid, lookup(group, "group") if group else uid


def _content_hash(sources: list[Path]) -> str:
    digest = hashlib.sha256()
    for source in sources:
        for path in _walk(source):
            st = os.lstat(path)
            digest.update(f"{path.relative_to(source.parent)}\0{st.st_mode}\0".encode())
            if stat.S_ISLNK(st.st_mode):
                digest.update(os.readlink(path).encode())
            elif stat.S_ISREG(st.st_mode):
                with path.open("rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        digest.update(chunk)
    return digest.hexdigest()


def _walk(source: Path) -> Iterator[Path]:
    yield source
    if source.is_dir() and not source.is_symlink():
        for root, dirnames, filenames in os.walk(source):
            dirnames.sort()
            for name in sorted(dirnames + filenames):
                yield Path(root) / name


def _extract_into(builder: LayerBuilder, archive_path: Path, dest: str, owner: tuple[int, int] | None) -> None:
    """ADD's auto-extraction: the archive's entries under ``dest``, refusing unsafe names and devices."""
    prefix = f"{dest}/" if dest else ""
    with tarfile.open(archive_path, "r:*") as archive:
        for member in archive:
            try:
                parts = clean_name(member.name)
                if member.islnk():
                    member.linkname = prefix + "/".join(clean_name(member.linkname))
            except UnsafeLayer as err:
                raise BuildError(f"ADD {archive_path.name}: {err}") from None
            if not parts:
                continue
            if member.ischr() or member.isblk():
                raise BuildError(f"ADD {archive_path.name}: {member.name!r} is a device node")
            member.name = prefix + "/".join(parts)
            if owner is not None:
                member.uid, member.gid = owner
            member.uname = member.gname = ""
            builder.add_tar_member(member, archive.extractfile(member) if member.isfile() else None)
