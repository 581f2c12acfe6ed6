"""Test plumbing shared by every suite: ports, names, processes, and guaranteed cleanup."""
