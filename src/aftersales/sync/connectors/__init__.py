"""Reconciliation connectors: one per kind of channel API, picked by the link's `connector`."""

from __future__ import annotations

from aftersales.sync.connectors.base import Change, Connector, ConnectorError
from aftersales.sync.models import ChannelLink
from aftersales.sync.models import Connector as ConnectorKind

__all__ = ["Change", "Connector", "ConnectorError", "connector_for"]


def connector_for(link: ChannelLink) -> Connector:
    """The adapter the link is set up for; ConnectorError when it has none or lacks settings."""
    if link.connector == ConnectorKind.REST:
        from aftersales.sync.connectors.rest import RestConnector

        return RestConnector.for_link(link)
    raise ConnectorError(f"the channel link has no connector ({link.connector or 'none'})")
