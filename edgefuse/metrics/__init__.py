"""edgefuse.metrics."""
