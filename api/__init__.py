"""Kubernetes kinds declared once: defaults, validation, OpenAPI, merge keys, table columns."""
