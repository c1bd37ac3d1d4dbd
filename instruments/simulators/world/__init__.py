"""Physics of the simulated bench: source, reference standard, meters, error calculators, chamber."""
