"""Aftersales: one service desk for every after-sales case from every channel."""
