"""A kubectl-compatible command line."""
