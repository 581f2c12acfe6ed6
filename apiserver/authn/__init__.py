"""Authentication: who sent a request, as kube-apiserver decides it.

A chain of authenticators (x509 client certificates, static tokens, bootstrap tokens, ServiceAccount
JWTs) turns a request into a `User`; impersonation headers may then swap that user for another when
the authorizer allows it. Anything presented and not accepted is a 401, never a 500.
"""
