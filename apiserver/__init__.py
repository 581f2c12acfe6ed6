"""The Kubernetes REST API over the store (`tinykube apiserver`).

A request flows one way: `server` (routing, authentication via `auth`, timeouts, Status for every
error) → `handlers` (verbs and subresources), which decode bodies (`bodies`, `patch`), resolve the kind
(`kinds`: built-ins from `api/`, custom resources from CRDs), run `admission`, allocate Service
addresses (`allocators`) and write through `registry` (conditional store transactions). Reads of
`resourceVersion=0` and every watch come from `watch_cache`. `discovery`, `openapi` and
`openapi_proto` describe the API; `tables` renders kubectl's columns; `reviews` and `tokens` answer
who-am-I, may-I and TokenRequest; `kubelet_proxy` streams logs, exec and port-forward from the pod's
kubelet; `bootstrap` and `endpoints` keep the cluster's own objects in place.
"""
