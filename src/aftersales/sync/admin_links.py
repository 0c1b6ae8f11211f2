"""Placeholder: admin for channel links and the event log (being written)."""
