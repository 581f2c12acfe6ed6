"""Auditing: kube-apiserver's audit.k8s.io/v1 Policy decides, per request, how much of it is recorded; the
log holds one audit.k8s.io/v1 Event per line (JSON lines), with --audit-log-maxsize/--audit-log-maxbackup
rotation. Secrets and tokens are never recorded beyond Metadata, whatever the policy says.
"""
