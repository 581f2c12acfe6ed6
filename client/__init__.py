"""The client-go of tinykube: kubeconfig, REST client, watch, informers, work queues, leader election.

Where things are:

- ``kubeconfig``: load/merge/write kubeconfig files, in-cluster config, TLS context.
- ``rest``: ``RestClient`` (verbs, failover across apiservers, retries), ``ResourceRef``, ``PatchType``.
- ``errors``: typed ``Status`` errors (``NotFound``, ``Conflict``, ``Gone``, …).
- ``watch``: ``watch()`` streams and the list-then-watch ``Reflector``.
- ``cache`` / ``informer``: indexed caches, ``SharedInformer``, ``SharedInformerFactory``.
- ``workqueue``: the rate-limited, deduplicating ``WorkQueue`` and ``run_workers``.
- ``leaderelection``: Lease-based ``LeaderElector`` around a pure ``decide``.
- ``mapping`` / ``discovery`` / ``typed``: resource names to refs, and ``Clientset`` handles.
- ``events``: ``EventRecorder``; ``flags``: the shared ``--kubeconfig``/``--leader-elect*`` flags.
- ``clock`` / ``backoff``: injectable time (``FakeClock`` for tests) and jittered backoff.
"""
