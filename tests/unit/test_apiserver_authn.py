"""The authenticators one by one, with a fake clock and objects held in a dict instead of the store."""

from __future__ import annotations

import base64
import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict

from api.schema import JSON
from apiserver.auth import User
from apiserver.authn import jws
from apiserver.authn.bootstrap_tokens import BootstrapTokenAuthenticator
from apiserver.authn.chain import Authenticator, is_public
from apiserver.authn.client_certs import ClientCertAuthenticator
from apiserver.authn.credentials import bearer_token
from apiserver.authn.errors import InvalidCredentials
from apiserver.authn.impersonation import Impersonation, requested
from apiserver.authn.lookup import ObjectLookup
from apiserver.authn.reviews import token_review
from apiserver.authn.serviceaccount_auth import ServiceAccountAuthenticator
from apiserver.authn.serviceaccount_tokens import ObjectRef, ServiceAccountKeys, legacy_claims
from apiserver.authn.static_tokens import StaticTokenAuthenticator, TokenFileError, load_token_file
from apiserver.authn.token_cache import TokenCache
from apiserver.authn.token_request import TokenRequests
from apiserver.authz.attributes import ALLOW, Attributes, Decision, Outcome
from apiserver.errors import APIError
from apiserver.watch_cache import ResourceCache, WatchCaches

ISSUER = "https://kubernetes.default.svc.cluster.local"
NOW = 1_800_000_000.0


class Clock:
    """Seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


class Objects:
    """The ObjectGetter of the authenticators, over a dict."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str | None, str], dict[str, JSON]] = {}

    def add(self, plural: str, namespace: str | None, name: str, uid: str, **rest: JSON) -> dict[str, JSON]:
        obj: dict[str, JSON] = {"metadata": {"name": name, "namespace": namespace, "uid": uid}, **rest}
        self.items[(plural, namespace, name)] = obj
        return obj

    async def get(self, plural: str, namespace: str | None, name: str, uid: str = "") -> dict[str, JSON] | None:
        obj = self.items.get((plural, namespace, name))
        if obj is None or (uid and obj["metadata"]["uid"] != uid):
            return None
        return obj


def _write_key(path: Path, key: rsa.RSAPrivateKey) -> Path:
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return path


@pytest.fixture(scope="module")
def key_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[ServiceAccountKeys, ServiceAccountKeys]:
    """Our signing key and someone else's (loading a key is slow: once per module)."""
    root = tmp_path_factory.mktemp("keys")
    ours = _write_key(root / "sa.key", rsa.generate_private_key(public_exponent=65537, key_size=2048))
    theirs = _write_key(root / "other.key", rsa.generate_private_key(public_exponent=65537, key_size=2048))
    return ServiceAccountKeys(ours, []), ServiceAccountKeys(theirs, [])


@pytest.fixture(scope="module")
def signed(key_files: tuple[ServiceAccountKeys, ServiceAccountKeys]) -> tuple[ServiceAccountKeys, str]:
    """Our keys and one token they signed."""
    keys = key_files[0]
    return keys, keys.sign({"iss": ISSUER, "sub": "x"})


class World:
    """A signer and a verifier sharing a clock and objects."""

    def __init__(self, keys: ServiceAccountKeys) -> None:
        self.clock = Clock()
        self.objects = Objects()
        self.keys = keys
        self.requests = TokenRequests(self.keys, ISSUER, (ISSUER,), self.objects, clock=self.clock)
        self.verifier = ServiceAccountAuthenticator(
            self.keys, frozenset({ISSUER}), (ISSUER,), lookup=self.objects, clock=self.clock
        )
        self.sa = self.objects.add("serviceaccounts", "ns", "robot", "sa-uid")

    async def token(self, **spec: JSON) -> str:
        reply = await self.requests.create(self.sa, {"spec": spec})
        return str(reply["status"]["token"])


@pytest.fixture
def world(key_files: tuple[ServiceAccountKeys, ServiceAccountKeys]) -> World:
    return World(key_files[0])


async def test_bound_token_names_account_pod_and_node_and_works_until_the_pod_goes(world: World) -> None:
    world.objects.add("pods", "ns", "web", "pod-uid", spec={"serviceAccountName": "robot", "nodeName": "node1"})
    world.objects.add("nodes", None, "node1", "node-uid")
    token = await world.token(boundObjectRef={"kind": "Pod", "apiVersion": "v1", "name": "web"})
    found = await world.verifier.authenticate(token)
    assert found is not None
    user, audiences = found
    assert (user.name, user.uid, audiences) == ("system:serviceaccount:ns:robot", "sa-uid", (ISSUER,))
    assert user.groups == ("system:serviceaccounts", "system:serviceaccounts:ns", "system:authenticated")
    assert user.extra["authentication.kubernetes.io/pod-name"] == ("web",)
    assert user.extra["authentication.kubernetes.io/node-name"] == ("node1",)
    assert user.extra["authentication.kubernetes.io/credential-id"][0].startswith("JTI=")
    # Deleted, then recreated under the same name: the cached signature check does not keep it alive.
    del world.objects.items[("pods", "ns", "web")]
    with pytest.raises(InvalidCredentials, match="pod ns/web"):
        await world.verifier.authenticate(token)
    world.objects.add("pods", "ns", "web", "new-pod-uid", spec={"serviceAccountName": "robot"})
    with pytest.raises(InvalidCredentials, match="pod ns/web"):
        await world.verifier.authenticate(token)


async def test_pod_terminating_gracefully_keeps_its_token_for_a_minute(world: World) -> None:
    pod = world.objects.add("pods", "ns", "web", "pod-uid", spec={"serviceAccountName": "robot"})
    token = await world.token(boundObjectRef={"kind": "Pod", "name": "web"})
    pod["metadata"]["deletionTimestamp"] = "2027-01-15T08:00:00Z"
    world.clock.now = 1_800_000_000.0  # 2027-01-15T08:00:00Z
    assert await world.verifier.authenticate(token) is not None
    world.clock.now += 61
    with pytest.raises(InvalidCredentials, match="has been deleted"):
        await world.verifier.authenticate(token)


async def test_token_expires_even_while_cached(world: World) -> None:
    token = await world.token(expirationSeconds=600)
    assert await world.verifier.authenticate(token) is not None
    world.clock.now += 600
    with pytest.raises(InvalidCredentials, match="expired"):
        await world.verifier.authenticate(token)


async def test_account_deleted_or_recreated_ends_its_tokens(world: World) -> None:
    token = await world.token()
    world.objects.add("serviceaccounts", "ns", "robot", "another-uid")
    with pytest.raises(InvalidCredentials, match="service account ns/robot"):
        await world.verifier.authenticate(token)
    del world.objects.items[("serviceaccounts", "ns", "robot")]
    with pytest.raises(InvalidCredentials, match="service account ns/robot"):
        await world.verifier.authenticate(token)


async def test_audiences_scope_tokens(world: World) -> None:
    vault = await world.token(audiences=["vault"])
    with pytest.raises(InvalidCredentials, match="audiences"):
        await world.verifier.authenticate(vault)
    found = await world.verifier.authenticate(vault, ("vault", "other"))
    assert found is not None and found[1] == ("vault",)


async def test_tokens_of_other_keys_and_issuers_and_tampered_ones_are_refused(
    world: World, key_files: tuple[ServiceAccountKeys, ServiceAccountKeys]
) -> None:
    token = await world.token()
    stranger = World(key_files[1])
    with pytest.raises(InvalidCredentials, match="signature"):
        await world.verifier.authenticate(await stranger.token())
    other_issuer = ServiceAccountAuthenticator(
        world.keys, frozenset({"https://elsewhere"}), (ISSUER,), lookup=world.objects, clock=world.clock
    )
    with pytest.raises(InvalidCredentials, match="issuer"):
        await other_issuer.authenticate(token)
    header, claims, signature = token.split(".")
    forged = json.loads(base64.urlsafe_b64decode(claims + "=="))
    forged["kubernetes.io"]["serviceaccount"]["name"] = "admin"
    forged_claims = jws.b64encode(json.dumps(forged).encode())
    with pytest.raises(InvalidCredentials, match="signature"):
        await world.verifier.authenticate(f"{header}.{forged_claims}.{signature}")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    sibling = alphabet[alphabet.index(signature[-1]) ^ 1]  # same bytes: 2048-bit signatures leave 2 bits unused
    with pytest.raises(InvalidCredentials, match="canonical"):
        await world.verifier.authenticate(f"{header}.{claims}.{signature[:-1]}{sibling}")
    none_alg = jws.b64encode(b'{"alg":"none"}')
    with pytest.raises(InvalidCredentials, match="algorithm"):
        await world.verifier.authenticate(f"{none_alg}.{claims}.")


async def test_legacy_secret_token_lives_with_its_secret(world: World) -> None:
    token = world.keys.sign(legacy_claims("ns", ObjectRef("robot", "sa-uid"), "robot-token"))
    stored = base64.b64encode(token.encode()).decode()
    secret = world.objects.add("secrets", "ns", "robot-token", "s-uid", data={"token": stored})
    user = await world.verifier.authenticate(token)
    assert user is not None and user[0].name == "system:serviceaccount:ns:robot"
    secret["data"] = {"token": base64.b64encode(b"rotated").decode()}
    with pytest.raises(InvalidCredentials, match="no longer holds"):
        await world.verifier.authenticate(token)
    del world.objects.items[("secrets", "ns", "robot-token")]
    with pytest.raises(InvalidCredentials, match="secret ns/robot-token"):
        await world.verifier.authenticate(token)


@pytest.mark.parametrize(
    ("spec", "code", "words"),
    [
        ({"expirationSeconds": 599}, 422, "less than 10 minutes"),
        ({"expirationSeconds": "600"}, 400, "integer"),
        ({"audiences": "x"}, 400, "audiences"),
        ({"boundObjectRef": {"kind": "ConfigMap", "name": "x"}}, 400, "object of type ConfigMap"),
        ({"boundObjectRef": {"kind": "Pod", "name": "missing"}}, 404, "missing"),
        ({"boundObjectRef": {"kind": "Pod", "name": "web", "uid": "stale"}}, 409, "does not match"),
        ({"boundObjectRef": {"kind": "Pod", "name": "other-sa"}}, 400, "different serviceaccount"),
    ],
)
async def test_token_requests_are_validated(world: World, spec: dict[str, JSON], code: int, words: str) -> None:
    world.objects.add("pods", "ns", "web", "pod-uid", spec={"serviceAccountName": "robot"})
    world.objects.add("pods", "ns", "other-sa", "pod2-uid", spec={"serviceAccountName": "builder"})
    with pytest.raises(APIError) as err:
        await world.requests.create(world.sa, {"spec": spec})
    assert err.value.code == code and words in str(err.value.body["message"])


async def test_token_request_defaults_audiences_and_lifetime(world: World) -> None:
    reply = await world.requests.create(world.sa, {"spec": {}})
    assert reply["spec"] == {"audiences": [ISSUER], "expirationSeconds": 3600}
    assert reply["status"]["expirationTimestamp"] == "2027-01-15T09:00:00Z"


def _bootstrap_secret(objects: Objects, **fields: str) -> None:
    data = {
        "token-id": "abcdef",
        "token-secret": "0123456789abcdef",
        "usage-bootstrap-authentication": "true",
        "expiration": "2027-01-16T00:00:00Z",
        "auth-extra-groups": "system:bootstrappers:kubeadm:default-node-token",
        **fields,
    }
    encoded: dict[str, JSON] = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    objects.add(
        "secrets", "kube-system", "bootstrap-token-abcdef", "b-uid", type="bootstrap.kubernetes.io/token", data=encoded
    )


async def test_bootstrap_token_authenticates_as_a_bootstrapper() -> None:
    objects, clock = Objects(), Clock()
    auth = BootstrapTokenAuthenticator(objects, clock)
    _bootstrap_secret(objects)
    user = await auth.authenticate("abcdef.0123456789abcdef")
    assert user == User(
        "system:bootstrap:abcdef",
        "",
        ("system:bootstrappers", "system:bootstrappers:kubeadm:default-node-token", "system:authenticated"),
    )
    assert await auth.authenticate("not-a-bootstrap-token") is None
    with pytest.raises(InvalidCredentials, match="does not match"):
        await auth.authenticate("abcdef.0123456789abcdee")
    with pytest.raises(InvalidCredentials, match="no secret"):
        await auth.authenticate("zzzzzz.0123456789abcdef")
    clock.now += 86400
    with pytest.raises(InvalidCredentials, match="expired"):
        await auth.authenticate("abcdef.0123456789abcdef")


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"usage-bootstrap-authentication": "false"}, "not usable"),
        ({"auth-extra-groups": "system:masters"}, "auth-extra-groups"),
        ({"expiration": "tomorrow"}, "expiration"),
    ],
)
async def test_bootstrap_secret_must_allow_what_the_token_does(fields: dict[str, str], words: str) -> None:
    objects = Objects()
    _bootstrap_secret(objects, **fields)
    with pytest.raises(InvalidCredentials, match=words):
        await BootstrapTokenAuthenticator(objects, Clock()).authenticate("abcdef.0123456789abcdef")


def test_token_file_is_read_like_kube_apiserver_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "tokens.csv"
    path.write_text('# comment\nsecret1,alice,u1,"dev,ops"\n\nsecret2,bob,u2\n')
    users = load_token_file(path)
    assert users == {"secret1": User("alice", "u1", ("dev", "ops")), "secret2": User("bob", "u2")}
    assert StaticTokenAuthenticator(users).authenticate("secret1") == User(
        "alice", "u1", ("dev", "ops", "system:authenticated")
    )
    path.write_text("secret1,alice\n")
    with pytest.raises(TokenFileError, match=r"tokens\.csv:1"):
        load_token_file(path)


def _peercert(not_after: str = "Jan 16 00:00:00 2027 GMT", cn: str = "alice") -> dict[str, Any]:
    subject = [(("organizationName", "dev"),), (("organizationName", "ops"),)]
    if cn:
        subject.append((("commonName", cn),))
    return {"subject": tuple(subject), "notAfter": not_after}


def test_client_certificate_subject_is_the_user_while_unexpired() -> None:
    clock = Clock()
    certs = ClientCertAuthenticator(clock)
    assert certs.authenticate(_peercert()) == User("alice", "", ("dev", "ops", "system:authenticated"))
    assert certs.authenticate(None) is None and certs.authenticate({}) is None
    with pytest.raises(InvalidCredentials, match="no common name"):
        certs.authenticate(_peercert(cn=""))
    for bad in ("Jan 15 00:00:00 2027 GMT", "garbage"):
        with pytest.raises(InvalidCredentials, match="expired"):
            certs.authenticate(_peercert(not_after=bad))


def _headers(*pairs: tuple[str, str]) -> CIMultiDict[str]:
    return CIMultiDict(pairs)


def test_bearer_tokens_are_read_defensively() -> None:
    assert bearer_token(_headers(("Authorization", "Bearer abc.def"))) == "abc.def"
    assert bearer_token(_headers(("authorization", "bearer  abc "))) == "abc"
    assert bearer_token(_headers()) is None
    encoded = base64.urlsafe_b64encode(b"abc").decode().rstrip("=")
    protocols = f"v5.channel.k8s.io, base64url.bearer.authorization.k8s.io.{encoded}"
    assert bearer_token(_headers(("Upgrade", "websocket"), ("Sec-WebSocket-Protocol", protocols))) == "abc"
    assert bearer_token(_headers(("Sec-WebSocket-Protocol", protocols))) is None  # not a WebSocket request
    for headers, words in [
        (_headers(("Authorization", "Basic YWxpY2U6cHc=")), "not a bearer"),
        (_headers(("Authorization", "Bearer")), "empty"),
        (_headers(("Authorization", "Bearer a b")), "characters"),
        (_headers(("Authorization", "Bearer tökén")), "characters"),
        (_headers(("Authorization", "Bearer " + "a" * 20000)), "too long"),
        (_headers(("Authorization", "Bearer a"), ("Authorization", "Bearer b")), "more than one"),
        (
            _headers(("Upgrade", "websocket"), ("Sec-WebSocket-Protocol", "base64url.bearer.authorization.k8s.io.!!!")),
            "base64url",
        ),
    ]:
        with pytest.raises(InvalidCredentials, match=words):
            bearer_token(headers)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300) | st.binary(max_size=300).map(lambda b: b.decode("latin-1")))
def test_jwt_parsing_of_any_text_fails_only_with_invalid_credentials(text: str) -> None:
    with contextlib.suppress(InvalidCredentials):
        jws.parse(text)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_bit_flipped_tokens_never_verify(signed: tuple[ServiceAccountKeys, str], data: st.DataObject) -> None:
    keys, token = signed
    raw = bytearray(token.encode())
    index = data.draw(st.integers(0, len(raw) - 1))
    raw[index] ^= 1 << data.draw(st.integers(0, 7))
    with pytest.raises(InvalidCredentials):
        keys.verified_claims(raw.decode("latin-1"))


class Grants:
    """An authorizer allowing exactly the listed (resource, name) impersonations."""

    def __init__(self, *allowed: tuple[str, str]) -> None:
        self.allowed = set(allowed)
        self.asked: list[Attributes] = []

    def authorize(self, attrs: Attributes) -> Decision:
        self.asked.append(attrs)
        ok = attrs.verb == "impersonate" and (attrs.resource, attrs.name) in self.allowed
        return ALLOW if ok else Decision(Outcome.DENY)


ALICE = User("alice", "", ("system:authenticated",))


def test_impersonation_needs_every_attribute_allowed() -> None:
    grants = Grants(("users", "jane"), ("groups", "devs"), ("uids", "42"), ("userextras", "x"))
    as_jane = _headers(
        ("Impersonate-User", "jane"),
        ("Impersonate-Group", "devs"),
        ("Impersonate-Uid", "42"),
        ("Impersonate-Extra-Scopes%2Fa", "x"),
    )
    user = Impersonation(grants).apply(ALICE, as_jane)
    assert user == User("jane", "42", ("devs", "system:authenticated"), {"scopes/a": ("x",)})
    assert {(a.resource, a.api_group, a.subresource) for a in grants.asked} == {
        ("users", "", ""),
        ("groups", "", ""),
        ("uids", "authentication.k8s.io", ""),
        ("userextras", "authentication.k8s.io", "scopes/a"),
    }
    with pytest.raises(APIError) as err:
        Impersonation(Grants(("users", "jane"))).apply(ALICE, as_jane)
    assert err.value.code == 403
    assert 'User "alice" cannot impersonate resource "groups" in API group "" at the cluster scope' in str(
        err.value.body["message"]
    )


def test_impersonating_a_service_account_or_nobody() -> None:
    grants = Grants(("serviceaccounts", "robot"))
    user = Impersonation(grants).apply(ALICE, _headers(("Impersonate-User", "system:serviceaccount:ns:robot")))
    assert user.groups == ("system:serviceaccounts", "system:serviceaccounts:ns", "system:authenticated")
    assert (grants.asked[0].namespace, grants.asked[0].api_group) == ("ns", "")
    with pytest.raises(APIError) as err:
        Impersonation(grants).apply(ALICE, _headers(("Impersonate-Group", "system:masters")))
    assert err.value.code == 400 and "without impersonating a user" in str(err.value.body["message"])


def test_only_impersonation_headers_ask_for_impersonation() -> None:
    for name in ("Impersonate-User", "impersonate-group", "IMPERSONATE-UID", "Impersonate-Extra-Scopes"):
        assert requested(_headers(("Accept", "*/*"), (name, "x")))
    for name in ("Impersonate", "Impersonate-Other", "X-Impersonate-User", "Accept"):
        assert not requested(_headers((name, "x")))


def test_public_paths_are_the_health_and_version_endpoints_and_below() -> None:
    assert all(is_public(p) for p in ("/healthz", "/livez/ping", "/readyz", "/version", "/version/"))
    assert not any(is_public(p) for p in ("/", "/api", "/healthzx", "/metrics", "/openapi/v2"))


async def test_token_review_reports_user_audiences_and_refusals(world: World) -> None:
    chain = Authenticator(
        api_audiences=(ISSUER,),
        impersonation=Impersonation(Grants()),
        static=StaticTokenAuthenticator({"static1": User("ops", "u9", ("admins",))}),
        service_accounts=world.verifier,
    )
    vault = await world.token(audiences=["vault"])
    ok = await token_review(chain, {"spec": {"token": vault, "audiences": ["vault"]}})
    assert ok["authenticated"] is True and ok["audiences"] == ["vault"]
    assert ok["user"]["username"] == "system:serviceaccount:ns:robot"
    wrong = await token_review(chain, {"spec": {"token": vault}})
    assert wrong["authenticated"] is False and "audiences" in str(wrong["error"])
    static = await token_review(chain, {"spec": {"token": "static1"}})
    assert static["audiences"] == [ISSUER] and static["user"]["groups"] == ["admins", "system:authenticated"]
    assert (await token_review(chain, {"spec": {"token": "static1", "audiences": ["vault"]}}))["authenticated"] is False
    assert (await token_review(chain, {"spec": {"token": "nope"}}))["authenticated"] is False


def test_token_cache_forgets_after_its_ttl_and_beyond_its_capacity() -> None:
    clock = Clock()
    cache: TokenCache[int] = TokenCache(capacity=2, ttl=10, clock=clock)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    cache.put("c", 3)  # evicts b, the least recently used
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)
    clock.now += 10
    assert cache.get("a") is None


class StoreReads:
    """The registry's `get`, over a dict, counting reads."""

    def __init__(self, objects: dict[str, dict[str, JSON]]) -> None:
        self.objects = objects
        self.reads = 0

    async def get(self, key: str) -> dict[str, JSON] | None:
        self.reads += 1
        return self.objects.get(key)


async def test_lookup_answers_from_the_cache_and_reads_the_store_only_when_the_cache_may_lag() -> None:
    caches = WatchCaches(None)  # type: ignore[arg-type]
    cache = caches.caches["/registry/pods/"] = ResourceCache(None, "/registry/pods/")  # type: ignore[arg-type]
    cache.state[b"/registry/pods/ns/web"] = {"metadata": {"name": "web", "uid": "old"}}
    cache.ready.set()
    store = StoreReads({"/registry/pods/ns/web": {"metadata": {"name": "web", "uid": "new"}}})
    lookup = ObjectLookup(caches, store)  # type: ignore[arg-type]
    assert await lookup.get("pods", "ns", "web", "old") == {"metadata": {"name": "web", "uid": "old"}}
    assert store.reads == 0
    # Recreated a moment ago: the cache still holds the old uid, the store has the truth.
    assert await lookup.get("pods", "ns", "web", "new") == {"metadata": {"name": "web", "uid": "new"}}
    assert await lookup.get("pods", "ns", "gone") is None
    assert await lookup.get("pods", "ns", "web", "other") is None
    assert store.reads == 3
