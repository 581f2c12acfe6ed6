"""Our etcd: a Raft-replicated MVCC key-value store speaking etcd's v3 gRPC API."""
