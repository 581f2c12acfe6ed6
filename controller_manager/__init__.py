"""The standard controllers, each a reconcile function over informer caches; leader-elected."""
