"""The tinykube command: component entry points, local cluster bring-up, certificates, chaos."""
