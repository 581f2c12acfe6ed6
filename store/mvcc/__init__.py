"""etcd's v3 data model: revisions, ranges, transactions, watches, leases, compaction."""
