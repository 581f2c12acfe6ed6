"""What a pod reads by name before its containers start (what the kubelet watches, one object at a time)."""

from kubelet.pod_references import References, references


def test_every_kind_of_reference_is_found_in_the_pods_namespace():
    pod = {
        "metadata": {"namespace": "ns"},
        "spec": {
            "imagePullSecrets": [{"name": "pull"}],
            "volumes": [
                {"name": "a", "configMap": {"name": "cm-vol"}},
                {"name": "b", "secret": {"secretName": "sec-vol"}},
                {"name": "c", "persistentVolumeClaim": {"claimName": "data"}},
                {"name": "d", "projected": {"sources": [{"configMap": {"name": "kube-root-ca.crt"}},
                                                        {"secret": {"name": "sec-proj"}},
                                                        {"serviceAccountToken": {"path": "token"}}]}},
                {"name": "e", "emptyDir": {}},
            ],
            "initContainers": [{"name": "i", "envFrom": [{"configMapRef": {"name": "cm-init"}}]}],
            "containers": [{"name": "c", "envFrom": [{"secretRef": {"name": "sec-from"}}],
                            "env": [{"name": "A", "value": "x"},
                                    {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "cm-key", "key": "k"}}},
                                    {"name": "C", "valueFrom": {"secretKeyRef": {"name": "sec-key", "key": "k"}}},
                                    {"name": "D", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]}],
        },
    }
    refs = references(pod)
    assert refs.config_maps == {("ns", n) for n in ("cm-vol", "kube-root-ca.crt", "cm-init", "cm-key")}
    assert refs.secrets == {("ns", n) for n in ("pull", "sec-vol", "sec-proj", "sec-from", "sec-key")}
    assert refs.claims == {("ns", "data")}


def test_a_pod_without_references():
    assert references({"metadata": {"namespace": "ns"}, "spec": {"containers": [{"name": "c"}]}}) == References()
