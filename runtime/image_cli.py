"""``tinykube image``: build, tag, push, pull, import, export, list and remove images, docker's grammar.

Works on the same store the runtime daemon serves (``--root``), so an image built or imported
here is at once visible to CRI clients.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from process.flags import ComponentParser
from process.log import configure
from runtime.images.archive import export_archive, export_layout, import_images
from runtime.images.build import Builder
from runtime.images.defaults import BUSYBOX, build_defaults
from runtime.images.errors import ImageError
from runtime.images.reference import Reference, parse
from runtime.images.registry import Credentials, RegistryClient, RegistryHosts
from runtime.images.store import ImageRecord, ImageStore

DEFAULT_ROOT = "/var/lib/tinykube/runtime/images"  # where `tinykube runtime --root` keeps its image store


def _global_flags(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """Store and registry flags, accepted before the command and (as docker users type them) after it."""
    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument("--root", default=default(DEFAULT_ROOT), help="image store directory")
    parser.add_argument("--registry-mirror", action="append", default=default([]), metavar="NAME=URL",
                        help="pull NAME's images from URL first (repeatable), e.g. docker.io=http://172.28.1.1:5000")
    parser.add_argument("--insecure-registry", action="append", default=default([]), metavar="HOST:PORT",
                        help="speak plain http to this registry (repeatable)")


def _parser() -> ComponentParser:
    parser = ComponentParser("image", description="Build, push, pull and list images (docker's grammar).")
    _global_flags(parser, suppress=False)
    sub = parser.add_subparsers(dest="verb", metavar="COMMAND", parser_class=argparse.ArgumentParser)
    sub.required = True

    ls = sub.add_parser("ls", help="list images")
    ls.add_argument("-q", "--quiet", action="store_true", help="only image ids")
    ls.add_argument("--digests", action="store_true", help="show repository digests")
    ls.add_argument("-o", "--output", choices=["table", "json"], default="table")

    build = sub.add_parser("build", help="build an image from a Dockerfile")
    build.add_argument("-t", "--tag", action="append", default=[], help="name:tag for the image (repeatable)")
    build.add_argument("-f", "--file", help="Dockerfile (default: DIR/Dockerfile)")
    build.add_argument("--build-arg", action="append", default=[], metavar="KEY=VALUE")
    build.add_argument("--no-cache", action="store_true", help="do not reuse cached layers")
    build.add_argument("-q", "--quiet", action="store_true", help="print only the image id")
    build.add_argument("context", metavar="DIR")

    tag = sub.add_parser("tag", help="name an image SRC also DEST")
    tag.add_argument("source", metavar="SRC")
    tag.add_argument("dest", metavar="DEST")

    for verb, text in (("push", "upload an image to its registry"), ("pull", "download an image")):
        cmd = sub.add_parser(verb, help=text)
        cmd.add_argument("ref", metavar="REF")
        cmd.add_argument("--creds", metavar="USER:PASSWORD", help="registry credentials")

    imp = sub.add_parser("import", help="load images from a docker-save tar or an OCI layout (dir or tar)")
    imp.add_argument("path", metavar="FILE|DIR")
    imp.add_argument("ref", metavar="REF", nargs="?", help="name for images the archive leaves unnamed")

    exp = sub.add_parser("export", help="write images as a docker-save tar (also an OCI layout)")
    exp.add_argument("refs", metavar="REF", nargs="+")
    exp.add_argument("-o", "--output", required=True, metavar="FILE", help="tar file to write")
    exp.add_argument("--oci-dir", action="store_true", help="write an OCI layout directory instead of a tar")

    rm = sub.add_parser("rm", help="remove images (a name first; the image when no name is left)")
    rm.add_argument("refs", metavar="REF", nargs="+")

    inspect = sub.add_parser("inspect", help="print an image's record and config as JSON")
    inspect.add_argument("ref", metavar="REF")

    defaults = sub.add_parser("build-defaults", help="build busybox:latest and pause:latest into an OCI layout")
    defaults.add_argument("--out", required=True, metavar="DIR", help="OCI layout directory to (re)create")
    defaults.add_argument("--busybox", default=str(BUSYBOX), help="static busybox binary")
    defaults.add_argument("--import", dest="do_import", action="store_true", help="also import into --root")
    for command in sub.choices.values():
        _global_flags(command, suppress=True)
    return parser


def _ago(when: float) -> str:
    seconds = max(0, int(time.time() - when))
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} seconds ago"


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.3g}{unit}" if unit != "B" else f"{n}B"
        n //= 1000
    raise AssertionError("unreachable")


def _ls(store: ImageStore, args: argparse.Namespace) -> None:
    records = store.images()
    if args.quiet:
        for record in records:
            print(record.id[7:19])
        return
    if args.output == "json":
        print(json.dumps([_record_json(r) for r in records], indent=2))
        return
    rows = [("REPOSITORY", "TAG", *(("DIGEST",) if args.digests else ()), "IMAGE ID", "CREATED", "SIZE")]
    for record in records:
        digest = record.repo_digests[0].split("@")[1] if record.repo_digests else "<none>"
        names: list[Reference | None] = [parse(t) for t in record.repo_tags] or [None]
        for ref in names:
            repo, tag = (ref.familiar().rsplit(":", 1) if ref else ("<none>", "<none>"))
            rows.append((repo, tag, *((digest,) if args.digests else ()), record.id[7:19], _ago(record.created),
                         _size(record.size)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def _record_json(record: ImageRecord) -> dict[str, object]:
    return {"id": record.id, "repoTags": record.repo_tags, "repoDigests": record.repo_digests, "size": record.size,
            "manifest": record.manifest_digest, "layers": record.layers}


async def _run(args: argparse.Namespace) -> int:
    if args.verb == "build-defaults":
        digests = build_defaults(Path(args.out), Path(args.busybox))
        for name, digest in digests.items():
            print(f"{name} {digest}")
        if args.do_import:
            import_images(Path(args.out), ImageStore(Path(args.root)))
        return 0
    store = ImageStore(Path(args.root))
    hosts = RegistryHosts.from_flags(args.registry_mirror, args.insecure_registry)
    creds = Credentials.parse(args.creds) if getattr(args, "creds", None) else None
    if args.verb == "ls":
        _ls(store, args)
    elif args.verb == "tag":
        store.tag(args.source, args.dest)
    elif args.verb == "pull":
        ref = parse(args.ref)
        async with RegistryClient(hosts) as client:
            record = await client.pull(ref, store, creds)
        print(f"Digest: {record.repo_digests[0].split('@')[1] if record.repo_digests else record.manifest_digest}")
        print(str(ref))
    elif args.verb == "push":
        record = store.get(args.ref)
        ref = parse(args.ref)
        async with RegistryClient(hosts) as client:
            digest = await client.push(ref, store, creds, source=record.id)
        print(f"{ref.tag or 'pushed'}: digest: {digest} size: {len(store.content.read(digest))}")
    elif args.verb == "import":
        for record in import_images(Path(args.path), store, parse(args.ref) if args.ref else None):
            label = ", ".join(parse(t).familiar() for t in record.repo_tags) or record.id
            print(f"Loaded image: {label}")
    elif args.verb == "export":
        (export_layout if args.oci_dir else export_archive)(store, args.refs, Path(args.output))
    elif args.verb == "rm":
        for text in args.refs:
            image_id, deleted = store.untag(text)
            print(f"{'Deleted' if deleted else 'Untagged'}: {image_id if deleted else text}")
    elif args.verb == "inspect":
        record = store.get(args.ref)
        config = store.config(record)
        print(json.dumps({**_record_json(record), "config": json.loads(config.to_bytes())}, indent=2))
    elif args.verb == "build":
        return await _build(store, hosts, args)
    return 0


async def _build(store: ImageStore, hosts: RegistryHosts, args: argparse.Namespace) -> int:
    tags: list[Reference] = [parse(t) for t in args.tag]
    build_args = {}
    for item in args.build_arg:
        key, sep, value = item.partition("=")
        build_args[key] = value if sep else ""
    async with RegistryClient(hosts) as client:
        async def pull(ref: Reference) -> ImageRecord:
            return await client.pull(ref, store)

        def show(line: str) -> None:
            if not args.quiet:
                print(line, flush=True)

        builder = Builder(store, pull, show)
        result = await builder.build(Path(args.context), tags, Path(args.file) if args.file else None, build_args,
                                     use_cache=not args.no_cache)
    if args.quiet:
        print(result.record.id)
    return 0


def main(argv: Sequence[str]) -> int:
    """``tinykube image ...``; errors are one line on stderr and exit 1."""
    args = _parser().parse_args(argv)
    configure("image", args.verbosity)
    if args.verbosity == 0:  # a command's output is its result; store and registry events only with -v
        logging.getLogger("runtime.images").setLevel(logging.WARNING)
    try:
        return asyncio.run(_run(args))
    except ImageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"error: {err.strerror or err}{f': {err.filename}' if err.filename else ''}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
