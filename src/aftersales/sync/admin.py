"""Admin for channel sync: imports (upload, error report), channel links and the event log."""

from aftersales.sync import admin_links  # noqa: F401  (channel links and events)
