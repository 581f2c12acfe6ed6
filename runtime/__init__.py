"""tinykube's container runtime behind CRI: images, sandboxes, containers from Linux primitives."""
