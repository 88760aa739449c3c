"""edgefuse.baselines."""
