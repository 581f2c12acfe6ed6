"""Authorization: request attributes, the authorizers (AlwaysAllow, AlwaysDeny, Node, RBAC) and their union.

`attributes` holds the small interface every caller uses (`Attributes`, `Decision`, `Authorizer`);
the rest are the authorizers, the indexes they read, and the policy written at start-up.
"""
