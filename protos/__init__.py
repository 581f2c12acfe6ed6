"""Protocol sources (etcd v3 API, CRI) and the modules generated from them at setup."""
