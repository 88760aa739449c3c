"""edgefuse.cli."""
