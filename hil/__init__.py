"""MeterHIL: hardware-in-the-loop test framework for smart electricity meters."""

__version__ = "0.1.0"
