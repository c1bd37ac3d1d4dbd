"""Functional checks of smart-meter features over the meter's port: clock and tariffs."""
