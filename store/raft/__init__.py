"""Raft consensus as a pure state machine: messages and ticks in, a Ready batch out."""
