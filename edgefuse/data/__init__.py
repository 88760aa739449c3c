"""edgefuse.data."""
