"""Instrument drivers (``instruments.drivers``) and the simulated bench behind the wire
(``instruments.simulators``). Drivers never import simulator code."""
