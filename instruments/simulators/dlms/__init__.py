"""The simulated meters' DLMS/COSEM server: COSEM objects over the physics world, associations, sessions."""
