"""Monitoring: the daemon's status and health."""
