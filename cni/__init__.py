"""The CNI plugin (bridge + host-local IPAM) and the flannel-style VXLAN overlay daemon."""
