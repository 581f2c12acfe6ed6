"""Conventions every tinykube process shares: logging, flags, shutdown, version.

Kept apart from the components so that each of them (the store included, which may
import nothing Kubernetes-specific) can start and stop the same way.
"""
