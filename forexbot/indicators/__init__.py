"""Technical indicators computed one closed bar at a time."""
