"""CRI v1 (``runtime.v1``): the Kubernetes Container Runtime Interface, generated from api.proto."""
