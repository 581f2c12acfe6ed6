"""Pod volumes on the node's disk: each kind prepared under ``<root>/pods/<uid>/volumes/`` for the runtime to bind."""
