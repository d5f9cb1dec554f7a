"""The trading engine: risk manager, execution manager and position manager."""
