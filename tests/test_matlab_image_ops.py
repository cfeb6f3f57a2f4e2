"""The MATLAB image operations, on cases whose MATLAB results are known."""

import cv2
import numpy as np
import pytest

import matlab_image_ops


def test_resize_nearest_matches_matlab_known_cases():
    # imresize([1 2 3], [1 5], 'nearest') = [1 1 2 3 3]; imresize(1:4, [1 2], 'nearest') = [2 4]
    assert matlab_image_ops.resize_nearest(np.array([[1, 2, 3]]), (1, 5)).tolist() == [[1, 1, 2, 3, 3]]
    assert matlab_image_ops.resize_nearest(np.array([[1, 2, 3, 4]]), (1, 2)).tolist() == [[2, 4]]
    # Doubling repeats every pixel twice (MATLAB's 256 -> 512 label resize).
    assert matlab_image_ops.resize_nearest(np.array([[1, 2], [3, 4]]), (4, 4)).tolist() == [
        [1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]


def test_resize_nearest_breaks_exact_ties_as_matlab():
    # 2048 -> 192: output column 5 (1-based) has u = 5/0.09375 - 4.8333 = 48.5 exactly, and
    # MATLAB's kernel (-0.5 <= u - c < 0.5) takes column 49, i.e. 0-based 48.
    row = np.arange(2048)[None, :]
    assert matlab_image_ops.resize_nearest(row, (1, 192))[0, 4] == 48
    assert matlab_image_ops.resize_nearest(row, (1, 192))[0, 0] == 5   # u = 5.8333 -> column 6


@pytest.mark.parametrize("in_shape,out_shape", [((64, 128), (128, 256)), ((256, 512), (64, 128)),
                                                ((37, 53), (100, 20)), ((1024, 2048), (256, 512))])
def test_resize_nearest_equals_opencv_exact_nearest_away_from_ties(in_shape, out_shape):
    # OpenCV's INTER_NEAREST_EXACT samples pixel centres like MATLAB (plain INTER_NEAREST does
    # not); it agrees wherever its fixed-point arithmetic meets no exact tie, as in these sizes.
    image = np.random.default_rng(0).integers(0, 255, in_shape + (3,), dtype=np.uint8)
    expected = cv2.resize(image, out_shape[::-1], interpolation=cv2.INTER_NEAREST_EXACT)
    np.testing.assert_array_equal(matlab_image_ops.resize_nearest(image, out_shape), expected)


def test_connected_components_are_numbered_in_column_major_order():
    mask = np.array([[1, 0, 0, 1],
                     [0, 0, 0, 1],
                     [0, 1, 0, 0]], bool)
    labels, count = matlab_image_ops.connected_components(mask)
    # bwlabel scans columns first: (1,1) -> 1, (3,2) -> 2, column 4 -> 3.
    assert count == 3
    assert labels.tolist() == [[1, 0, 0, 3], [0, 0, 0, 3], [0, 2, 0, 0]]


def test_connected_components_use_eight_connectivity():
    mask = np.array([[1, 0, 0],
                     [0, 1, 0],
                     [0, 0, 1]], bool)
    labels, count = matlab_image_ops.connected_components(mask)
    assert count == 1 and set(labels[mask].tolist()) == {1}


def test_sobel_edge_follows_matlab_thinning_rule():
    mask = np.zeros((10, 10), bool)
    mask[3:7, 3:7] = True  # rows/columns 4..7 in MATLAB's 1-based terms
    edge = matlab_image_ops.sobel_edge(mask)
    # Across a step the two pixels have equal gradient; MATLAB keeps the one whose right (lower)
    # neighbour is weaker: inside the mask on its left/top side, outside on its right/bottom side.
    for row in (4, 5):
        assert np.flatnonzero(edge[row]).tolist() == [3, 7]
    for col in (4, 5):
        assert np.flatnonzero(edge[:, col]).tolist() == [3, 7]
    assert not matlab_image_ops.sobel_edge(np.zeros((5, 5), bool)).any()
    assert not matlab_image_ops.sobel_edge(np.ones((5, 5), bool)).any()


def test_dilate_square_odd_and_even_widths_match_matlab_origin():
    mask = np.zeros((12, 12), bool)
    mask[5, 5] = True
    odd = matlab_image_ops.dilate_square(mask, 3)
    assert np.argwhere(odd).min(0).tolist() == [4, 4] and np.argwhere(odd).max(0).tolist() == [6, 6]
    # strel('square', 4) has its origin at element 2: offsets -1..+2.
    even = matlab_image_ops.dilate_square(mask, 4)
    assert np.argwhere(even).min(0).tolist() == [4, 4] and np.argwhere(even).max(0).tolist() == [7, 7]
    assert even.sum() == 16
    np.testing.assert_array_equal(matlab_image_ops.dilate_square(mask, 1), mask)
