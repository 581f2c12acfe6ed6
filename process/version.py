"""The one place that says which tinykube this is."""

__version__ = "0.1.0"

# The Kubernetes API version whose semantics tinykube follows (reported by /version).
KUBERNETES_GIT_VERSION = "v1.32.0"
