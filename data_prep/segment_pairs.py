"""Pairs of segments of one image, the unit the ordering network judges (steps 5 and 6).

A pair is segment j of class c and segment k of class c2, c visited before c2 in the back-to-front
class order, both with area above the threshold. The network sees the pair as a colour label map
restricted to the two segments (palette colours there, black elsewhere). On the training side a
pair counts only when the segments touch, and its label (the class in front) comes from the
disparity along their shared boundary.
"""

import numpy as np

import class_table
import labels
import matlab_image_ops
import segments

TOUCH_WIDTH = 3        # segment j's edge dilated by this square must reach segment k
BOUNDARY_WIDTH = 11    # disparity is compared where both edges dilated by this square meet


def class_masks(folder, image_id, shape, area_threshold, class_count):
    """{class id: [(slice number, HxW bool mask)]} of the segments with area above the threshold;
    slice numbers are 1-based among all the class's segments (the original_index of later steps)."""
    masks = {}
    for class_id in range(1, class_count + 1):
        (library_mask,) = segments.read_segment_masks(segments.segment_file(folder, class_id, image_id), shape,
                                                      names=("library_mask",))
        masks[class_id] = [(j + 1, library_mask[:, :, j] > 0) for j in range(library_mask.shape[2])
                           if library_mask[:, :, j].sum() > area_threshold]
    return masks


def segment_pairs(masks, order):
    """(j, k, c, c2, mask_j, mask_k) for every pair, in the original's loop order."""
    for position, first_class in enumerate(order):
        for second_class in order[position + 1:]:
            for j, mask_j in masks[first_class]:
                for k, mask_k in masks[second_class]:
                    yield j, k, first_class, second_class, mask_j, mask_k


def pair_mask(first, second, first_class, second_class, classes):
    """The pair as the network sees it: HxWx3 uint8 colour label of the two segments only."""
    index = np.full(first.shape, class_table.VOID_INDEX, np.uint8)
    index[first] = first_class - 1
    index[second] = second_class - 1
    return labels.index_to_label(index, classes)


def touching(first, second):
    """Whether `second` reaches into the band of first's Sobel edge dilated by a 3x3 square."""
    band = matlab_image_ops.dilate_square(matlab_image_ops.sobel_edge(first), TOUCH_WIDTH)
    # The original tests (band + first == 1): band pixels outside `first`, or `first` pixels off the band.
    return bool(np.any((band ^ first) & second))


def boundary_disparities(first, second, disparity):
    """Valid stored disparities (p > 0) of each segment where both dilated edges overlap."""
    region = (matlab_image_ops.dilate_square(matlab_image_ops.sobel_edge(first), BOUNDARY_WIDTH)
              & matlab_image_ops.dilate_square(matlab_image_ops.sobel_edge(second), BOUNDARY_WIDTH))
    valid = region & (disparity > 0)
    return disparity[valid & first], disparity[valid & second]


def front_class(first, second, first_class, second_class, disparity, classes, planar_rule=True):
    """The class in front (larger disparity is closer; ties go to the later class), or None when
    either side has no valid disparity. With planar_rule a class of the table's "standing" group
    is in front of one of its "planar" group (Cityscapes: objects on road, sidewalk, terrain),
    whatever the depth says."""
    first_values, second_values = boundary_disparities(first, second, disparity)
    if first_values.size == 0 or second_values.size == 0:
        return None
    front = second_class if np.median(first_values) <= np.median(second_values) else first_class
    for planar, standing in ((first_class, second_class), (second_class, first_class)):
        if planar_rule and planar in classes.ids("planar") and standing in classes.ids("standing"):
            front = standing
    return front
