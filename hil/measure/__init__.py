"""Measurement: load points on every position at once, through the error calculators."""
