"""Cluster DNS: names for Services and Pods, nothing forwarded upstream unless configured."""
