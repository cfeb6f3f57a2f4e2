"""Segments of a label map: the memory bank's connected components (step 1 of the original).

A segment is an 8-connected component of one class. For classes other than pole, traffic light
and traffic sign, the thin-structure pixels are joined to the class before labelling, so a
building cut by a pole stays one segment; a component with at least as many thin pixels as own
pixels (a pole alone, say) is dropped. Per kept segment, in MATLAB's component order:
  library_mask       the component's own-class pixels (uint8 0/1)
  library_mask_pole  the whole component, thin pixels included, inside the box of library_mask
  library_img        the image's pixels under library_mask (training side only)
Arrays are in MATLAB's axis order: HxWxN and HxWx3xN.
"""

import numpy as np
import scipy.ndimage

import data_root
import errors
import file_io
import matlab_image_ops



def class_segments(index, class_id, thin_classes, thin_merge=True):
    """(library_mask, library_mask_pole), both HxWxN uint8, of a 1-based class in an index map.
    thin_merge=False leaves thin structures out (the original marks the merge optional)."""
    index = np.asarray(index)
    own = index == class_id - 1
    if class_id in thin_classes or not thin_merge:
        thin = np.zeros_like(own)
    else:
        thin = np.isin(index, [thin_class - 1 for thin_class in thin_classes])
    labels, count = matlab_image_ops.connected_components(own | thin)
    own_count = np.bincount(labels[own], minlength=count + 1)
    thin_count = np.bincount(labels[thin], minlength=count + 1)

    height, width = index.shape
    kept = [k for k in range(1, count + 1) if own_count[k] > thin_count[k]]
    library_mask = np.zeros((height, width, len(kept)), np.uint8, order="F")  # as the file stores it
    library_mask_pole = np.zeros((height, width, len(kept)), np.uint8, order="F")
    boxes = scipy.ndimage.find_objects(labels)
    for slot, component_id in enumerate(kept):
        box = boxes[component_id - 1]
        component = labels[box] == component_id
        segment = component & own[box]
        library_mask[box][..., slot] = segment
        rows, cols = np.nonzero(segment)
        own_box = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
        library_mask_pole[box][own_box + (slot,)] = component[own_box]
    return library_mask, library_mask_pole


def add_thin_merge_argument(parser):
    parser.add_argument("--no-thin-merge", dest="thin_merge", action="store_false",
                        help="do not join pole, traffic light and sign pixels to other classes' segments")


def segment_pixels(rgb, library_mask):
    """library_img: the image (HxWx3) under each mask, HxWx3xN uint8."""
    pixels = np.empty(library_mask.shape[:2] + (3, library_mask.shape[2]), np.uint8, order="F")
    return np.multiply(np.asarray(rgb, np.uint8)[:, :, :, None], library_mask[:, :, None, :], out=pixels)


def segment_file(folder, class_id, image_id):
    """FOLDER/CC/NAME.mat, CC the 1-based class as %02d (the original's layout)."""
    return folder / f"{class_id:02d}" / f"{data_root.image_name(image_id)}.mat"


def segment_files(folder, image_id, class_count):
    return [segment_file(folder, class_id, image_id) for class_id in range(1, class_count + 1)]


def read_segment_masks(path, shape, names=("library_mask", "library_mask_pole")):
    """The named HxWxN mask stacks of a segment file, checked against the level-1 shape.

    MATLAB drops a trailing dimension of 1, so a file it wrote with one segment holds HxW.
    """
    content = file_io.load_mat(path, list(names))
    stacks = []
    for name in names:
        array = content[name]
        if array.ndim == 2:
            array = array[:, :, None]
        if array.ndim != 3 or array.shape[:2] != tuple(shape):
            raise errors.DataError(f"{path}: {name} is {'x'.join(map(str, array.shape))}, "
                                   f"expected {shape[0]}x{shape[1]}xN")
        stacks.append(array)
    if len({stack.shape[2] for stack in stacks}) > 1:
        raise errors.DataError(f"{path}: {', '.join(names)} hold different numbers of segments")
    return stacks
