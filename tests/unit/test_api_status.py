"""Status bodies kubectl prints: messages, reasons, codes and details as kube-apiserver sends them."""

from api import errors, status


def test_not_found_and_already_exists():
    body = status.not_found("pods", "", "nope")
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'pods "nope" not found',
        "reason": "NotFound",
        "code": 404,
        "details": {"name": "nope", "kind": "pods"},
    }
    exists = status.already_exists("deployments", "apps", "web")
    assert exists["message"] == 'deployments.apps "web" already exists'
    assert exists["details"] == {"name": "web", "kind": "deployments", "group": "apps"}
    assert exists["code"] == 409


def test_conflict_message():
    assert status.conflict("pods", "", "nginx")["message"] == (
        'Operation cannot be fulfilled on pods "nginx": the object has been modified; please apply your changes to '
        "the latest version and try again"
    )


def test_invalid_and_strict_decoding():
    body = status.invalid("Deployment", "apps", "web", [errors.required("spec.selector")])
    assert body["message"] == 'Deployment.apps "web" is invalid: spec.selector: Required value'
    assert body["details"]["group"] == "apps"
    two = status.invalid("Pod", "", "p", [errors.required("spec.containers"), errors.required("metadata.namespace")])
    assert two["message"] == 'Pod "p" is invalid: [spec.containers: Required value, metadata.namespace: Required value]'
    unknown = [errors.unknown_field("spec.foo"), errors.unknown_field("spec.bar")]
    assert status.strict_decoding(unknown)["message"] == (
        'strict decoding error: unknown field "spec.foo", unknown field "spec.bar"'
    )
    assert status.strict_decoding(unknown)["code"] == 400
    assert status.unknown_field_warnings(unknown[:1]) == ['299 - "unknown field \\"spec.foo\\""']


def test_forbidden_and_expired():
    body = status.forbidden("bob", "list", "pods", "", namespace="default")
    assert body["message"] == (
        'pods is forbidden: User "bob" cannot list resource "pods" in API group "" in the namespace "default"'
    )
    named = status.forbidden("bob", "get", "nodes", "", namespace=None, name="n1")
    assert (
        named["message"] == 'nodes "n1" is forbidden: User "bob" cannot get resource "nodes" in API group "" at '
        "the cluster scope"
    )
    assert status.too_old_resource_version(110, 140)["message"] == "too old resource version: 110 (140)"
    assert status.too_old_resource_version(110, 140)["code"] == 410


def test_success_on_delete():
    body = status.success("configmaps", "", "cm", uid="u1")
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {"name": "cm", "kind": "configmaps", "uid": "u1"},
    }
