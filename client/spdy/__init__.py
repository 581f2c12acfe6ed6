"""SPDY/3.1 as Kubernetes streams use it (port-forward, and exec/attach's fallback): frames, header
compression and a session core, all free of I/O so the apiserver, the kubelet and tkctl share them."""
