"""edgefuse.models."""
