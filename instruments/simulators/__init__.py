"""Simulated meter-test bench: physics world, virtual clock and the TCP servers over it."""
