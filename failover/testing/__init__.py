"""Test kit for applications that use failover: local clouds, faults, contract suites."""
