"""Power-quality kinds: the meter's PQ functions against the signals the source plays."""
