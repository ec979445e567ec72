"""The safety app's admin, by subject; importing the modules registers their models."""

from safety.admin import adverse_events, flags

__all__ = ["adverse_events", "flags"]
