"""Image reading/writing and IR/visible pair discovery."""

from edgefuse.data.images import read_ir, read_rgb, read_vis, write_image
from edgefuse.data.pairs import LoadedPair, Pair, check_pairs, find_pairs, load_pair, pairs_from_folders

__all__ = [
    "LoadedPair",
    "Pair",
    "check_pairs",
    "find_pairs",
    "load_pair",
    "pairs_from_folders",
    "read_ir",
    "read_rgb",
    "read_vis",
    "write_image",
]
