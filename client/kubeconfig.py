"""kubeconfig files as kubectl reads and writes them, in-cluster config, and the TLS context they imply.

Loading follows client-go's ``clientcmd`` rules: ``--kubeconfig`` names one file that must exist;
otherwise ``KUBECONFIG`` lists files (``:``-separated) merged so that the first file to define a
cluster, user or context name wins it whole, and the first file to set ``current-context`` wins
that; otherwise ``~/.kube/config``. Relative file references resolve against the directory of the
file that holds them. Edits go back to the file an entry came from (new entries and
``current-context`` to kubectl's default file), so ``tkctl config`` behaves like ``kubectl config``.

Not supported: ``exec`` credential plugins and ``auth-provider`` (a user relying on one is an error
naming it), ``proxy-url``, and re-reading rotated client-certificate files.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import os
import ssl
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from client.errors import ClientError

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
DEFAULT_NAMESPACE = "default"

# kubeconfig sections holding named entries, and the key of each entry's body.
_SECTIONS = {"clusters": "cluster", "users": "user", "contexts": "context"}


class KubeconfigError(ClientError):
    """The kubeconfig is missing, malformed, or does not describe a usable connection."""


class TokenSource:
    """A bearer token, read once (static) or re-read whenever its file changes (projected, rotating tokens)."""

    def __init__(self, token: str | None = None, path: str | Path | None = None) -> None:
        if (token is None) == (path is None):
            raise ValueError("give exactly one of token or path")
        self._token = token or ""
        self._path = Path(path) if path is not None else None
        self._stamp: tuple[int, int] | None = None

    @property
    def path(self) -> Path | None:
        return self._path

    def token(self) -> str:
        """The current token; a file is re-read when its mtime or size changed (kubelet rotates it)."""
        if self._path is None:
            return self._token
        try:
            st = self._path.stat()
        except OSError as exc:
            raise KubeconfigError(f"cannot read token file {self._path}: {exc}") from exc
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            self._token = self._path.read_text().strip()
            self._stamp = stamp
        return self._token


@dataclass(frozen=True)
class TLSConfig:
    """Everything needed to build the client's ``ssl.SSLContext``; PEM bytes, already read from files."""

    ca_data: bytes | None = None
    insecure: bool = False
    server_name: str | None = None
    cert_data: bytes | None = None
    key_data: bytes | None = None

    def ssl_context(self) -> ssl.SSLContext:
        """A context verifying the server against ``ca_data`` (system roots if none) and presenting the client cert."""
        if self.insecure:
            ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        elif self.ca_data is not None:
            ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cadata=self.ca_data.decode("ascii"))
        else:
            ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        if self.cert_data is not None or self.key_data is not None:
            if self.cert_data is None or self.key_data is None:
                raise KubeconfigError("a client certificate needs both the certificate and the key")
            _load_cert_chain(ctx, self.cert_data, self.key_data)
        return ctx


def _load_cert_chain(ctx: ssl.SSLContext, cert: bytes, key: bytes) -> None:
    # ssl loads keys only from paths: use anonymous in-memory files so the key never touches a disk.
    with _memory_file(cert) as cert_path, _memory_file(key) as key_path:
        try:
            ctx.load_cert_chain(cert_path, key_path)
        except ssl.SSLError as exc:
            raise KubeconfigError(f"client certificate and key do not load: {exc}") from exc


@contextlib.contextmanager
def _memory_file(data: bytes) -> Iterator[str]:
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("tinykube-tls", 0)
        try:
            os.write(fd, data)
            yield f"/proc/self/fd/{fd}"
        finally:
            os.close(fd)
        return
    import tempfile  # noqa: PLC0415 - kept off the start-up path of CLIs

    with tempfile.NamedTemporaryFile() as tmp:  # non-Linux: a private (0600) temporary file
        tmp.write(data)
        tmp.flush()
        yield tmp.name


@dataclass
class ClientConfig:
    """How to reach and authenticate to the apiserver(s): the resolved form of a kubeconfig context."""

    servers: list[str]
    tls: TLSConfig = field(default_factory=TLSConfig)
    token: TokenSource | None = None
    username: str | None = None
    password: str | None = None
    namespace: str = DEFAULT_NAMESPACE
    context: str | None = None

    def __post_init__(self) -> None:
        if not self.servers:
            raise KubeconfigError("no apiserver address configured")
        self.servers = [s.rstrip("/") for s in self.servers]

    @property
    def uses_tls(self) -> bool:
        return any(s.startswith("https://") for s in self.servers)

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context for ``https://`` servers, or None when every server is plain http."""
        return self.tls.ssl_context() if self.uses_tls else None

    def authorization(self) -> str | None:
        """The ``Authorization`` header value, read fresh each time so rotated tokens take effect."""
        if self.token is not None:
            return "Bearer " + self.token.token()
        if self.username is not None:
            raw = f"{self.username}:{self.password or ''}".encode()
            return "Basic " + base64.b64encode(raw).decode("ascii")
        return None


# ----------------------------------------------------------------------------------------------
# Files and merging


@dataclass
class _File:
    path: Path
    doc: dict[str, Any]
    dirty: bool = False


def _empty_doc() -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Config", "preferences": {}, "clusters": [], "users": [],
            "contexts": [], "current-context": ""}


def read_doc(path: Path) -> dict[str, Any]:
    """One kubeconfig file, parsed and checked (missing sections as empty lists)."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise KubeconfigError(f"cannot read kubeconfig {path}: {exc}") from exc
    import yaml  # noqa: PLC0415 - kept off the start-up path of CLIs that cache parsed files

    try:
        doc = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError as exc:
        raise KubeconfigError(f"kubeconfig {path} is not valid YAML: {exc}") from exc
    if doc is None:
        return _empty_doc()
    if not isinstance(doc, dict):
        raise KubeconfigError(f"kubeconfig {path} is not a mapping")
    for section in _SECTIONS:
        entries = doc.get(section)
        if entries is None:
            doc[section] = []
        elif not isinstance(entries, list) or not all(isinstance(e, dict) and "name" in e for e in entries):
            raise KubeconfigError(f"kubeconfig {path}: {section} must be a list of named entries")
    return doc


def _entry(doc: dict[str, Any], section: str, name: str) -> dict[str, Any] | None:
    for item in doc.get(section) or []:
        if item.get("name") == name:
            found: dict[str, Any] = item
            return found
    return None


class Kubeconfig:
    """The merged view of one or more kubeconfig files, editable and writable back to its files."""

    def __init__(self, files: list[_File], default_file: Path) -> None:
        self._files = files
        self._default_file = default_file

    # --- loading -------------------------------------------------------------------------------

    @classmethod
    def load(cls, explicit: str | Path | None = None, env: Mapping[str, str] | None = None,
             home: str | Path | None = None, *, read: Callable[[Path], dict[str, Any]] = read_doc) -> Kubeconfig:
        """Load by kubectl's precedence: ``explicit`` (must exist), else ``$KUBECONFIG``, else ``~/.kube/config``.

        ``read`` parses one file (a CLI may pass a cached ``read_doc``: parsing YAML is most of its start-up).
        """
        env = os.environ if env is None else env
        home_dir = Path(home) if home is not None else Path(env.get("HOME") or Path.home())
        if explicit:
            path = Path(explicit)
            if not path.exists():
                raise KubeconfigError(f"kubeconfig {path} does not exist")
            return cls([_File(path, read(path))], path)
        env_paths = _env_paths(env)
        if env_paths:
            files = [_File(p, read(p)) for p in env_paths if p.exists()]
            default = next((p for p in env_paths if p.exists()), env_paths[-1])
            return cls(files, default)
        global_file = home_dir / ".kube" / "config"
        files = [_File(global_file, read(global_file))] if global_file.exists() else []
        return cls(files, global_file)

    @property
    def paths(self) -> list[Path]:
        return [f.path for f in self._files]

    # --- merged view ---------------------------------------------------------------------------

    def _lookup(self, section: str, name: str) -> tuple[dict[str, Any], _File] | None:
        # The first file to define a name wins the whole entry, as in clientcmd.
        for f in self._files:
            item = _entry(f.doc, section, name)
            if item is not None:
                return item, f
        return None

    def _names(self, section: str) -> list[str]:
        seen: list[str] = []
        for f in self._files:
            for item in f.doc.get(section) or []:
                if item["name"] not in seen:
                    seen.append(item["name"])
        return seen

    @property
    def current_context(self) -> str:
        for f in self._files:
            if f.doc.get("current-context"):
                return str(f.doc["current-context"])
        return ""

    @property
    def contexts(self) -> dict[str, dict[str, Any]]:
        return {n: self.context(n) for n in self._names("contexts")}

    @property
    def clusters(self) -> dict[str, dict[str, Any]]:
        return {n: self.cluster(n) for n in self._names("clusters")}

    @property
    def users(self) -> dict[str, dict[str, Any]]:
        return {n: self.user(n) for n in self._names("users")}

    def context(self, name: str) -> dict[str, Any]:
        return self._body("contexts", name)

    def cluster(self, name: str) -> dict[str, Any]:
        """The cluster's fields, with relative file references made absolute against its file."""
        return self._body("clusters", name)

    def user(self, name: str) -> dict[str, Any]:
        return self._body("users", name)

    def _body(self, section: str, name: str) -> dict[str, Any]:
        found = self._lookup(section, name)
        if found is None:
            raise KubeconfigError(f"{_SECTIONS[section]} {name!r} not found in kubeconfig {self._where()}")
        item, origin = found
        body = copy.deepcopy(item.get(_SECTIONS[section]) or {})
        for key in _PATH_KEYS.get(section, ()):
            if body.get(key):
                body[key] = str(_resolve(origin.path, body[key]))
        return dict(body)

    def _where(self) -> str:
        return ", ".join(str(p) for p in self.paths) or str(self._default_file)

    def client_config(self, context: str | None = None, *, cluster: str | None = None, user: str | None = None,
                      namespace: str | None = None, server: str | None = None) -> ClientConfig:
        """Resolve a context (``--context``, else current-context) with kubectl's flag overrides."""
        name = context or self.current_context
        ctx: dict[str, Any] = {}
        if name:
            ctx = self.context(name)
        elif not (cluster and user is not None):
            raise KubeconfigError(f"no context chosen and no current-context set in {self._where()}")
        cluster_name = cluster or ctx.get("cluster")
        if not cluster_name:
            raise KubeconfigError(f"context {name!r} names no cluster")
        cl = self.cluster(cluster_name)
        user_name = user if user is not None else ctx.get("user")
        us = self.user(user_name) if user_name else {}
        addr = server or cl.get("server")
        if not addr:
            raise KubeconfigError(f"cluster {cluster_name!r} has no server")
        return ClientConfig(
            servers=[str(addr)],
            tls=_tls_from(cluster_name, cl, user_name or "", us),
            token=_token_from(user_name or "", us),
            username=us.get("username"),
            password=us.get("password"),
            namespace=namespace or ctx.get("namespace") or DEFAULT_NAMESPACE,
            context=name or None,
        )

    # --- editing -------------------------------------------------------------------------------

    def set_cluster(self, name: str, **fields: Any) -> None:
        """Create or update a cluster; fields are kubeconfig keys with ``_`` for ``-``; ``None`` removes a key."""
        self._set("clusters", name, fields)

    def set_user(self, name: str, **fields: Any) -> None:
        """Create or update a user (``token``, ``client_certificate_data``, ``username``, …)."""
        self._set("users", name, fields)

    def set_context(self, name: str, **fields: Any) -> None:
        """Create or update a context (``cluster``, ``user``, ``namespace``)."""
        self._set("contexts", name, fields)

    def delete(self, section: str, name: str) -> None:
        """Remove a named entry (``clusters``/``users``/``contexts``) from every file that defines it."""
        if section not in _SECTIONS:
            raise ValueError(f"unknown kubeconfig section {section!r}")
        found = False
        for f in self._files:
            entries = f.doc.get(section) or []
            kept = [e for e in entries if e.get("name") != name]
            if len(kept) != len(entries):
                f.doc[section] = kept
                f.dirty = found = True
        if not found:
            raise KubeconfigError(f"{_SECTIONS[section]} {name!r} not found in kubeconfig {self._where()}")

    def use_context(self, name: str) -> None:
        """Set current-context where kubectl 1.32 does: in the default file (the first existing file of
        ``KUBECONFIG``), which then wins the merge; ``""`` clears it in the first file that sets it."""
        if name == self.current_context:
            return
        if name:
            self.context(name)
            target = self._default()
        else:
            found = next((f for f in self._files if f.doc.get("current-context")), None)
            if found is None:
                return
            target = found
        target.doc["current-context"] = name
        target.dirty = True

    def _set(self, section: str, name: str, fields: Mapping[str, Any]) -> None:
        found = self._lookup(section, name)
        if found is None:
            target = self._default()
            item: dict[str, Any] = {"name": name, _SECTIONS[section]: {}}
            target.doc.setdefault(section, []).append(item)
        else:
            item, target = found
        body = item.setdefault(_SECTIONS[section], {})
        for key, value in fields.items():
            wire = key.replace("_", "-")
            wire = _CAMEL.get(wire, wire)
            if value is None:
                body.pop(wire, None)
            else:
                body[wire] = base64.b64encode(value).decode("ascii") if isinstance(value, bytes) else value
        target.dirty = True

    def _default(self) -> _File:
        for f in self._files:
            if f.path == self._default_file:
                return f
        f = _File(self._default_file, _empty_doc())
        self._files.append(f)
        return f

    def save(self) -> list[Path]:
        """Write every changed file (mode 0600, atomically); returns the paths written."""
        written = []
        for f in self._files:
            if f.dirty:
                write_kubeconfig(f.path, f.doc)
                f.dirty = False
                written.append(f.path)
        return written

    def to_dict(self) -> dict[str, Any]:
        """The merged config as one document (``kubectl config view --raw``), file references as written."""
        merged = _empty_doc()
        merged["current-context"] = self.current_context
        for section in _SECTIONS:
            for name in self._names(section):
                found = self._lookup(section, name)
                assert found is not None
                merged[section].append(copy.deepcopy(found[0]))
        for f in self._files:
            for key, value in (f.doc.get("preferences") or {}).items():
                merged["preferences"].setdefault(key, value)
        return merged


# Keys whose values are file paths (resolved against the kubeconfig's own directory).
_PATH_KEYS = {
    "clusters": ("certificate-authority",),
    "users": ("client-certificate", "client-key", "tokenFile"),
}
# kubeconfig keys that are camelCase on the wire (the rest are kebab-case).
_CAMEL = {"token-file": "tokenFile"}


def _env_paths(env: Mapping[str, str]) -> list[Path]:
    raw = env.get("KUBECONFIG", "")
    paths: list[Path] = []
    for part in raw.split(os.pathsep):
        if part and Path(part) not in paths:
            paths.append(Path(part))
    return paths


def _resolve(origin: Path, value: str) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else (origin.parent / p)


def _data_or_file(body: Mapping[str, Any], data_key: str, file_key: str, what: str) -> bytes | None:
    if body.get(data_key):
        try:
            return base64.b64decode(body[data_key], validate=True)
        except ValueError as exc:
            raise KubeconfigError(f"{what}: {data_key} is not valid base64") from exc
    if body.get(file_key):
        try:
            return Path(body[file_key]).read_bytes()
        except OSError as exc:
            raise KubeconfigError(f"{what}: cannot read {file_key} {body[file_key]}: {exc}") from exc
    return None


def _tls_from(cluster_name: str, cl: Mapping[str, Any], user_name: str, us: Mapping[str, Any]) -> TLSConfig:
    ca = _data_or_file(cl, "certificate-authority-data", "certificate-authority", f"cluster {cluster_name!r}")
    insecure = bool(cl.get("insecure-skip-tls-verify"))
    if insecure and ca is not None:
        # kubectl refuses this combination rather than silently ignoring one of them.
        raise KubeconfigError(f"cluster {cluster_name!r}: certificate-authority and insecure-skip-tls-verify "
                              "are mutually exclusive")
    if us.get("exec") or us.get("auth-provider"):
        has_other = any(us.get(k) for k in ("token", "tokenFile", "client-certificate", "client-certificate-data",
                                            "username"))
        if not has_other:
            plugin = "exec" if us.get("exec") else "auth-provider"
            raise KubeconfigError(f"user {user_name!r} relies on an {plugin} credential plugin, "
                                  "which tinykube's client does not run")
    return TLSConfig(
        ca_data=ca,
        insecure=insecure,
        server_name=cl.get("tls-server-name") or None,
        cert_data=_data_or_file(us, "client-certificate-data", "client-certificate", f"user {user_name!r}"),
        key_data=_data_or_file(us, "client-key-data", "client-key", f"user {user_name!r}"),
    )


def _token_from(user_name: str, us: Mapping[str, Any]) -> TokenSource | None:
    has_token = bool(us.get("token") or us.get("tokenFile"))
    if has_token and (us.get("username") or us.get("password")):
        raise KubeconfigError(f"more than one authentication method found for user {user_name!r}; found "
                              "[token basicAuth], only one is allowed")
    # As in client-go, a token file (re-read as it rotates) takes precedence over an inline token.
    if us.get("tokenFile"):
        return TokenSource(path=us["tokenFile"])
    if us.get("token"):
        return TokenSource(token=str(us["token"]))
    return None


# ----------------------------------------------------------------------------------------------
# Entry points


def in_cluster_config(env: Mapping[str, str] | None = None,
                      account_dir: str | Path = SERVICE_ACCOUNT_DIR) -> ClientConfig:
    """The config of a process running in a pod: the ``kubernetes`` Service and its ServiceAccount token."""
    env = os.environ if env is None else env
    host, port = env.get("KUBERNETES_SERVICE_HOST"), env.get("KUBERNETES_SERVICE_PORT")
    if not host or not port:
        raise KubeconfigError("not running in a cluster: KUBERNETES_SERVICE_HOST/PORT are not set")
    account = Path(account_dir)
    token_path = account / "token"
    if not token_path.exists():
        raise KubeconfigError(f"not running in a cluster: no service account token at {token_path}")
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    ca_path = account / "ca.crt"
    ns_path = account / "namespace"
    return ClientConfig(
        servers=[f"https://{host}:{port}"],
        tls=TLSConfig(ca_data=ca_path.read_bytes() if ca_path.exists() else None),
        token=TokenSource(path=token_path),
        namespace=(ns_path.read_text().strip() if ns_path.exists() else "") or DEFAULT_NAMESPACE,
    )


def load_client_config(kubeconfig: str | Path | None = None, context: str | None = None, *,
                       namespace: str | None = None, env: Mapping[str, str] | None = None,
                       home: str | Path | None = None,
                       account_dir: str | Path = SERVICE_ACCOUNT_DIR) -> ClientConfig:
    """What every component calls: ``--kubeconfig``/``KUBECONFIG``/``~/.kube/config``, else in-cluster config.

    As in client-go, in-cluster config is used only when no kubeconfig file was named or found.
    """
    env = os.environ if env is None else env
    config = Kubeconfig.load(kubeconfig, env=env, home=home)
    if not config.paths and not context:
        try:
            cfg = in_cluster_config(env, account_dir)
        except KubeconfigError as exc:
            raise KubeconfigError(f"no kubeconfig found ({config._where()}) and {exc}") from exc
        if namespace:
            cfg.namespace = namespace
        return cfg
    return config.client_config(context, namespace=namespace)


def build_kubeconfig(*, cluster: str, server: str, user: str, ca_data: bytes | None = None,
                     cert_data: bytes | None = None, key_data: bytes | None = None, token: str | None = None,
                     context: str | None = None, namespace: str | None = None) -> dict[str, Any]:
    """A self-contained single-context kubeconfig (what ``tinykube certs`` writes as ``admin.kubeconfig``)."""
    ctx_name = context or f"{user}@{cluster}"
    cl: dict[str, Any] = {"server": server}
    if ca_data is not None:
        cl["certificate-authority-data"] = base64.b64encode(ca_data).decode("ascii")
    us: dict[str, Any] = {}
    if cert_data is not None:
        us["client-certificate-data"] = base64.b64encode(cert_data).decode("ascii")
    if key_data is not None:
        us["client-key-data"] = base64.b64encode(key_data).decode("ascii")
    if token is not None:
        us["token"] = token
    ctx: dict[str, Any] = {"cluster": cluster, "user": user}
    if namespace:
        ctx["namespace"] = namespace
    doc = _empty_doc()
    doc["clusters"] = [{"name": cluster, "cluster": cl}]
    doc["users"] = [{"name": user, "user": us}]
    doc["contexts"] = [{"name": ctx_name, "context": ctx}]
    doc["current-context"] = ctx_name
    return doc


def write_kubeconfig(path: str | Path, doc: Mapping[str, Any]) -> None:
    """Write ``doc`` as YAML with mode 0600 (it holds keys), replacing the file atomically."""
    target = Path(path)
    import tempfile  # noqa: PLC0415

    import yaml  # noqa: PLC0415

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".kubeconfig-", dir=target.parent)
    try:
        with os.fdopen(fd, "w") as out:
            yaml.safe_dump(dict(doc), out, default_flow_style=False, sort_keys=False)
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
