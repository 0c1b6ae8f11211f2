"""Shared model pieces: every shop-owned row carries shop_id so the data can be sharded by shop."""
