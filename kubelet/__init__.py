"""The node agent: runs the pods bound to its node through CRI and reports their status."""
