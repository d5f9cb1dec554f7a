"""Typed events and the in-process event bus."""
