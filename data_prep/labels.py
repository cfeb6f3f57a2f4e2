"""Colour label images and class index maps, through a dataset's class table (class_table.py).

Class k (1-based, as MATLAB) is index k - 1 in index maps; void and unknown colours are 255.
"""

import logging

import numpy as np

import class_table
import file_io

LOG = logging.getLogger("sims")


def label_to_index(label, classes):
    """Colour label (HxWx3 uint8) -> (class index map uint8 0..K-1, unknown-colour pixel count).

    Void (black) becomes 255, as the original's MATLAB func_mappinglabeltoindex. Unknown colours
    become 255 too: that MATLAB function leaves them 0 (the first class, road), while the
    original's Python helper.get_semantic_map, which feeds its networks, leaves them out of every
    class (void); the port follows the latter everywhere, so that a stray colour is never painted
    as road, and returns their count for the caller to report.
    """
    label = np.asarray(label)
    if label.ndim != 3 or label.shape[2] != 3:
        raise ValueError(f"a colour label must be HxWx3, got shape {label.shape}")
    index = classes.colour_index_table[class_table.colour_keys(label)]
    unknown = int(np.count_nonzero(index == class_table.UNKNOWN_COLOUR))
    if unknown:
        index[index == class_table.UNKNOWN_COLOUR] = class_table.VOID_INDEX
    return index, unknown


def index_to_label(index, classes):
    """Class index map (0..K-1, anything else void) -> colour label HxWx3 uint8."""
    index = np.asarray(index)
    colours = np.zeros((256, 3), dtype=np.uint8)
    colours[:classes.count] = classes.palette
    return colours[index.astype(np.uint8)]



def read_label(path, classes, shape=None):
    """Read a colour label PNG as a class index map; warns about colours outside the palette."""
    index, unknown = label_to_index(file_io.read_image(path, shape=shape), classes)
    if unknown:
        LOG.warning("%s: %d pixels have colours outside the palette; treated as void", path, unknown)
    return index
