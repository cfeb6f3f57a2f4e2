"""The port's steps read files as the original's MATLAB steps wrote them: the variables and types of
their zeros(..., type) lines (uint8 stacks, double labels, a single-precision canvas), saved by
Octave's `save -v7` (tests/matlab_written/write_like_matlab.m made the files, 4x6 images), with
MATLAB's shapes: a trailing count of 1 dropped, empty stacks of 0 segments."""

from pathlib import Path

import numpy as np
import pytest

import order
import synthesis
import transformation

FILES = Path(__file__).parent / "matlab_written"
SHAPE = (4, 6)


def pattern(shape, offset):
    """write_like_matlab.m's values: MATLAB's column-major index times 7 plus offset, modulo 256."""
    return (np.arange(np.prod(shape)).reshape(shape, order="F") * 7 + offset) % 256


@pytest.mark.parametrize("count", [0, 1, 3])
def test_transform_inputs(count):
    proposal, mask = transformation.read_proposals(FILES / f"transform_{count}.mat", SHAPE)
    assert proposal.shape == (count,) + SHAPE + (3,) and mask.shape == (count,) + SHAPE
    np.testing.assert_array_equal(proposal, pattern((count,) + SHAPE + (3,), 1))
    np.testing.assert_array_equal(mask, pattern((count,) + SHAPE, 2) % 2)


@pytest.mark.parametrize("count", [0, 1, 3])
def test_order_pairs(count):
    masks, labels = order.read_pairs(FILES / f"order_{count}.mat", SHAPE, 4)
    assert masks.shape == (count,) + SHAPE + (3,) and labels.shape == (count, 4)
    np.testing.assert_array_equal(masks, np.moveaxis(pattern(SHAPE + (3, count), 3), 3, 0))
    np.testing.assert_array_equal(labels, (np.arange(4 * count) % 19 + 1).reshape((count, 4), order="F"))


def test_a_single_precision_canvas():
    canvas, label = synthesis.read_test_canvas(FILES / "canvas.mat", SHAPE)
    assert canvas.dtype == np.float32 and label.dtype == np.uint8
    np.testing.assert_allclose(canvas, pattern(SHAPE + (3,), 4) / 255, rtol=1e-6)
    np.testing.assert_array_equal(label, pattern(SHAPE + (3,), 5))
