"""Linux primitives the runtime builds containers from, each module one kernel facility, via ctypes."""
