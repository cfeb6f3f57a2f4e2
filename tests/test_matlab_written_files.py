"""The port's steps read files as the original's MATLAB steps wrote them: the variables and types of
their zeros(..., type) lines (uint8 stacks, double labels, single scores and a single canvas), saved by
Octave's `save -v7` (tests/matlab_written/write_like_matlab.m made the files, 4x6 images), with
MATLAB's shapes: a trailing count of 1 dropped, empty stacks of 0 segments."""

import shutil
from pathlib import Path

import numpy as np
import pytest

import data_root
import folders
import order
import segments
import synthesis
import test_generate_canvas
import test_generate_transform
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


@pytest.mark.parametrize("count", [0, 1, 3])
def test_memory_bank_and_query_segment_masks(count):
    """train_connect_component_mask / test_connect_component_mask: HxWxN uint8 stacks."""
    masks, poles = segments.read_segment_masks(FILES / f"segments_{count}.mat", SHAPE)
    assert masks.shape == poles.shape == SHAPE + (count,)
    np.testing.assert_array_equal(masks, pattern(SHAPE + (count,), 7) % 2)
    np.testing.assert_array_equal(poles, pattern(SHAPE + (count,), 8) % 2)


@pytest.mark.parametrize("count", [1, 3])
def test_retrieval_results(count):
    """search_segments: HxWx3xKxN uint8 proposals, KxN single scores and indices (K = 2)."""
    proposal, iou, pole, index = test_generate_transform.read_search(FILES / f"search_{count}.mat", SHAPE, count)
    np.testing.assert_array_equal(proposal, pattern(SHAPE + (3, 2, count), 9))
    np.testing.assert_allclose(iou, pattern((2, count), 10) / 256, rtol=1e-6)
    np.testing.assert_array_equal(pole, pattern(SHAPE + (2, count), 11) % 2)
    np.testing.assert_array_equal(index, pattern((2, count), 12))
    assert index.dtype == np.int64


@pytest.mark.parametrize("kept, remained", [(1, 2), (3, 0)])
def test_every_variable_the_canvas_step_reads_from_a_transform_file(tmp_path, kept, remained):
    """test_generate_transform's whole file (uint8 stacks and classes, uint32 indices and flags) at
    32x64, the smallest level a data root has, read by test_generate_canvas."""
    folder = tmp_path / folders.transform_inputs("256")
    folder.mkdir(parents=True)
    shutil.copy(FILES / f"transform_full_{kept}_{remained}.mat", folder / f"{data_root.image_name(1)}.mat")
    shape = (32, 64)
    found = test_generate_canvas.read_segments(tmp_path, 1, data_root.Sizes(32), "256", "none")
    np.testing.assert_array_equal(found.answer, pattern((kept,) + shape + (3,), 13))
    np.testing.assert_array_equal(found.query_masks, pattern((kept,) + shape, 14) % 2 > 0)
    np.testing.assert_array_equal(found.pole_masks, pattern((kept,) + shape, 15) % 2 > 0)
    np.testing.assert_array_equal(found.remained_masks, pattern((remained,) + shape, 16) % 2 > 0)
    np.testing.assert_array_equal(found.classes, np.arange(1, kept + 1) % 19 + 1)
    np.testing.assert_array_equal(found.response_index, np.arange(1, kept + 1) + 10)
    np.testing.assert_array_equal(found.original_index, np.arange(1, kept + 1) + 20)
    np.testing.assert_array_equal(found.remained_classes, np.arange(1, remained + 1) + 2)
    np.testing.assert_array_equal(found.all_class_flag, np.concatenate(
        [np.stack([np.ones(kept), np.arange(1, kept + 1)], 1), np.stack([2 * np.ones(remained), np.arange(1, remained + 1)], 1)]))
