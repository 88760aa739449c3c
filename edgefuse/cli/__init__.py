"""Thin click commands over the edgefuse library."""
