"""The standard controllers, each a reconcile function over informer caches; leader-elected.

Each controller module is a pure core: a ``View`` of cached objects (``view.py``) and the time go in,
a list of intended writes (``actions.py``) comes out; the async driver executes them with ``client/``.
State that upstream keeps in controller memory is explicit and owned by the driver: ``Expectations``
(ReplicaSet, Job, DaemonSet, StatefulSet), ``nodelifecycle.ZoneLimiter``, HPA recommendations, and the
node IPAM allocations in flight.
"""
