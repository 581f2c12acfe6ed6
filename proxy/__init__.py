"""Services to netfilter rules (iptables, or nftables where asked)."""
