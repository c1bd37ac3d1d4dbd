"""DLMS/COSEM protocol, sans-IO: shared by the simulated meters and MeterHIL's client."""
