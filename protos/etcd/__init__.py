"""etcd v3's wire API (packages ``etcdserverpb`` and ``mvccpb``), written from etcd's API reference."""
