"""Failover under injected faults, on the local clouds."""
