"""Canvases: colour transfer, elision, the test canvas rules on constructed scenes, both steps' files."""

import shutil

import numpy as np
import pytest

import canvas as canvas_ops
import class_table
import colour_transfer
import data_root
import errors
import file_io
import labels
import matlab_image_ops
import per_image_runner
import resize_transform
import test_generate_canvas
import test_generate_order
import test_generate_transform
import train_generate_order
import train_generate_synthesis
from conftest import error_lines, root_after_steps, run_script

SHAPE = (64, 128)
ROAD, SIDEWALK, BUILDING, CAR, SKY = 1, 2, 3, 14, 11


# --- colour transfer ----------------------------------------------------------------------------

def test_colour_transfer_gives_the_targets_mean_and_covariance():
    rng = np.random.default_rng(0)
    source = rng.multivariate_normal([0.3, 0.5, 0.2], [[0.02, 0.01, 0], [0.01, 0.03, 0.005], [0, 0.005, 0.01]], 5000)
    target = rng.multivariate_normal([0.6, 0.2, 0.4], [[0.01, -0.004, 0], [-0.004, 0.02, 0], [0, 0, 0.04]], 4000)
    moved = colour_transfer.transfer_pixels(source, target)
    np.testing.assert_allclose(moved.mean(axis=0), target.mean(axis=0), atol=1e-6)
    np.testing.assert_allclose(np.cov(moved, rowvar=False), np.cov(target, rowvar=False), atol=2e-4)


def test_colour_transfer_is_the_identity_when_source_and_target_match():
    pixels = np.random.default_rng(1).random((500, 3))
    np.testing.assert_allclose(colour_transfer.transfer_pixels(pixels, pixels), pixels, atol=1e-4)


@pytest.mark.parametrize("source, target", [
    (np.full((40, 3), 0.5), np.random.default_rng(2).random((40, 3))),   # flat source
    (np.random.default_rng(3).random((40, 3)), np.full((40, 3), 0.2)),   # flat target
    (np.array([[0.1, 0.2, 0.3]]), np.array([[0.9, 0.8, 0.7], [0.1, 0.1, 0.1]])),  # a pixel or two
])
def test_colour_transfer_of_degenerate_input_is_finite(source, target):
    moved = colour_transfer.transfer_pixels(source, target)
    assert np.isfinite(moved).all()
    np.testing.assert_allclose(moved.mean(axis=0), target.mean(axis=0), atol=1e-3)
    image = colour_transfer.transfer_image(source.reshape(1, -1, 3), target.reshape(1, -1, 3))
    assert np.isfinite(image).all() and image.min() >= 0 and image.max() <= 1


# --- elision ------------------------------------------------------------------------------------

@pytest.mark.parametrize("inside_only", [True, False])
def test_elision_whitens_about_half_of_the_boundary_band_and_nothing_else(inside_only):
    piece = np.zeros(SHAPE + (3,))
    piece[20:50, 30:90] = (0.2, 0.4, 0.6)
    present = canvas_ops.content_mask(piece)
    band = canvas_ops.boundary_band(present, 4)
    if inside_only:
        band &= present
    elided = canvas_ops.elide(piece, 4, np.random.default_rng(4), inside_only)
    white = np.all(elided == 1.0, axis=2)
    assert not (white & ~band).any()
    assert white.sum() == int(band.sum() * 0.5)
    np.testing.assert_array_equal(elided[~white], piece[~white])


@pytest.mark.parametrize("width", [1, 2, 5, 12])
def test_the_boundary_band_computed_in_the_masks_box_equals_the_whole_images(width):
    rng = np.random.default_rng(width)
    for _ in range(20):   # blobs anywhere, touching the borders and the corners too
        mask = np.zeros(SHAPE, bool)
        for _ in range(rng.integers(1, 4)):
            top, left = rng.integers(-5, SHAPE[0]), rng.integers(-5, SHAPE[1])
            mask[max(top, 0):top + rng.integers(1, 30), max(left, 0):left + rng.integers(1, 40)] = True
        mask &= rng.random(SHAPE) < 0.9   # ragged edges and holes
        whole = matlab_image_ops.dilate_square(matlab_image_ops.sobel_edge(mask), width)
        np.testing.assert_array_equal(canvas_ops.boundary_band(mask, width), whole)
    assert not canvas_ops.boundary_band(np.zeros(SHAPE, bool), width).any()


def test_content_and_paste_keep_the_sum_rule_and_the_whole_images_result():
    rng = np.random.default_rng(0)
    bright = np.zeros(SHAPE + (3,), np.uint8)
    bright[3:9, 4:20] = (128, 128, 0)   # a uint8 sum would wrap round to 0
    np.testing.assert_array_equal(canvas_ops.content_mask(bright), bright.astype(int).sum(axis=2) > 0)
    piece = np.where(rng.random(SHAPE + (1,)) < 0.3, rng.random(SHAPE + (3,)), 0.0)
    piece[5, 5] = (0.0, -0.25, 0.25)   # sums to 0: no content, as the original's sum(..., 3) > 0
    np.testing.assert_array_equal(canvas_ops.content_mask(piece), piece.sum(axis=2) > 0)
    canvas, region = rng.random(SHAPE + (3,)), rng.random(SHAPE) < 0.1
    expected = np.where((canvas_ops.content_mask(piece) | region)[:, :, None], piece, canvas)
    np.testing.assert_array_equal(canvas_ops.paste(canvas.copy(), piece, region), expected)


# --- the test canvas on constructed scenes -------------------------------------------------------

def _block(top, bottom, left, right):
    mask = np.zeros(SHAPE, bool)
    mask[top:bottom, left:right] = True
    return mask


def _scene(road_shape=None, car_shape=None, transferred_car=None):
    """Sky over a road with a car on it; both road and car have a retrieved proposal."""
    layout = np.full(SHAPE, SKY - 1, np.uint8)
    road, car = _block(32, 64, 0, 128), _block(24, 44, 50, 80)
    layout[road] = ROAD - 1
    layout[car] = CAR - 1
    road_shape = road & ~car if road_shape is None else road_shape
    car_shape = car if car_shape is None else car_shape
    answer = np.zeros((2,) + SHAPE + (3,), np.uint8)
    answer[0][road_shape] = (90, 90, 90)
    answer[1][car_shape] = (200, 20, 20)
    transferred = answer.copy()
    if transferred_car is not None:
        transferred[1] = 0
        transferred[1][transferred_car] = (20, 200, 20)
    segments = test_generate_canvas.Segments(
        answer=answer, transferred=transferred, query_masks=np.array([road & ~car, car]),
        pole_masks=np.zeros((2,) + SHAPE, bool), classes=np.array([ROAD, CAR]), original_index=np.array([1, 1]),
        response_index=np.array([1, 2]), remained_masks=np.zeros((0,) + SHAPE, bool),
        remained_classes=np.zeros(0, int), all_class_flag=np.array([[1, 1], [1, 2]]))
    return layout, segments, road, car


def _compose(layout, segments, front_of=None, tricks=()):
    return test_generate_canvas.compose_canvas(layout, segments, front_of or {}, lambda _: np.zeros(SHAPE, np.uint8),
                                               np.random.default_rng(5), class_table.CITYSCAPES, tricks)


def test_the_ordering_prediction_decides_who_stays_on_top_in_the_overlap():
    big_car = _block(20, 50, 45, 85)          # the retrieved car spills over the road
    layout, segments, road, car = _scene(car_shape=big_car)
    overlap = big_car & road & ~car
    car_on_top, _ = _compose(layout, segments, {(1, 1, ROAD, CAR): CAR})
    road_on_top, label = _compose(layout, segments, {(1, 1, ROAD, CAR): ROAD})
    assert np.allclose(car_on_top[overlap], (200 / 255, 20 / 255, 20 / 255))
    assert np.allclose(road_on_top[overlap], (90 / 255, 90 / 255, 90 / 255))
    assert np.all(label[overlap] == ROAD - 1)
    no_prediction, _ = _compose(layout, segments, {})   # the class order: the later class wins
    np.testing.assert_array_equal(no_prediction, car_on_top)


def _three_overlapping_segments():
    """Road, then a car, then a bus spilling over both (one row per pair, a run's class order)."""
    layout, segments, road, car = _scene()
    bus = _block(20, 50, 60, 100)
    segments.answer = np.concatenate([segments.answer, np.zeros((1,) + SHAPE + (3,), np.uint8)])
    segments.answer[2][bus] = (20, 20, 200)
    segments.transferred = segments.answer.copy()
    segments.query_masks = np.concatenate([segments.query_masks, bus[None]])
    segments.pole_masks = np.zeros((3,) + SHAPE, bool)
    segments.classes, segments.original_index = np.array([ROAD, CAR, 16]), np.array([1, 1, 1])
    segments.response_index = np.array([1, 2, 3])
    segments.all_class_flag = np.array([[1, 1], [1, 2], [1, 3]])
    return layout, segments, road & ~car & bus, car & bus


def test_the_released_ordering_cut_removes_the_other_earlier_segments_overlap():
    """The car is predicted in front of the bus: the port keeps the car where they overlap; the
    released script instead cuts the bus where it overlaps the road (the pair's other segment),
    and looks the pair up by the bus's position among the proposals (3)."""
    layout, segments, bus_on_road, bus_on_car = _three_overlapping_segments()
    car_in_front = {(1, 1, CAR, 16): CAR, (1, 1, ROAD, 16): 16}
    fixed, _ = _compose(layout, segments, car_in_front)
    assert np.allclose(fixed[bus_on_car], (200 / 255, 20 / 255, 20 / 255))
    assert np.allclose(fixed[bus_on_road], (20 / 255, 20 / 255, 200 / 255))
    released_rows = {(1, 3, CAR, 16): CAR, (1, 3, ROAD, 16): 16}
    released, _ = test_generate_canvas.compose_canvas(layout, segments, released_rows, lambda _: np.zeros(SHAPE, np.uint8),
                                                      np.random.default_rng(5), class_table.CITYSCAPES, (), original_ordering_cut=True)
    assert np.allclose(released[bus_on_car], (20 / 255, 20 / 255, 200 / 255))   # the bus stays on top of the car
    assert np.allclose(released[bus_on_road], (90 / 255, 90 / 255, 90 / 255))   # and gives up the road's pixels
    # with a single overlapping segment the released cut removes nothing
    layout, segments, _, car = _scene(car_shape=_block(20, 50, 45, 85))
    released, _ = test_generate_canvas.compose_canvas(layout, segments, {(1, 2, ROAD, CAR): ROAD},
                                                      lambda _: np.zeros(SHAPE, np.uint8), np.random.default_rng(5),
                                                      class_table.CITYSCAPES, (), original_ordering_cut=True)
    spill = _block(20, 50, 45, 85) & ~car & (layout == ROAD - 1)
    assert np.allclose(released[spill], (200 / 255, 20 / 255, 20 / 255))


def test_a_transformed_proposal_that_fits_the_query_worse_is_rejected():
    layout, segments, _, car = _scene(transferred_car=_block(24, 44, 90, 120))   # moved off the query
    canvas, _ = _compose(layout, segments)
    assert np.allclose(canvas[car], (200 / 255, 20 / 255, 20 / 255))            # the untransformed one
    layout, segments, _, car = _scene(car_shape=_block(24, 44, 60, 90), transferred_car=car)
    canvas, _ = _compose(layout, segments)
    assert np.allclose(canvas[car], (20 / 255, 200 / 255, 20 / 255))            # the transformed one


def test_context_fill_restores_road_where_the_pasted_segments_left_the_label_void():
    partial_road = _block(48, 64, 0, 128)
    layout, segments, road, car = _scene(road_shape=partial_road, car_shape=_block(30, 44, 50, 80))
    uncovered_road = road & ~car & ~partial_road
    removed_car = car & ~_block(30, 44, 50, 80)
    _, label = _compose(layout, segments)
    assert np.all(label[uncovered_road] == class_table.VOID_INDEX)
    _, label = _compose(layout, segments, tricks=("context_fill",))
    assert np.all(label[uncovered_road] == ROAD - 1)
    assert np.all(label[removed_car] == class_table.VOID_INDEX)   # car is not a context class


def test_outer_elision_clears_road_below_and_beside_an_object_and_nothing_above():
    label = np.full(SHAPE, ROAD - 1, np.uint8)
    car = _block(24, 44, 50, 80)
    label[car] = CAR - 1
    canvas = test_generate_canvas.outer_elision(np.full(SHAPE + (3,), 0.5), label, SHAPE, class_table.CITYSCAPES)
    cleared = np.all(canvas == 0, axis=2)
    assert cleared[44:, 50:80].any() and cleared[24:44, :50].any()
    assert not cleared[:24].any() and not cleared[car].any()


def test_a_segment_without_a_proposal_is_cleared_and_keeps_its_class():
    layout, segments, road, car = _scene()
    building = _block(0, 20, 0, 40)
    segments.remained_masks, segments.remained_classes = building[None], np.array([BUILDING])
    segments.all_class_flag = np.array([[1, 1], [2, 1], [1, 2]])
    segments.answer[0][building] = 77   # a proposal painted there first is cleared by the later segment
    segments.transferred[0][building] = 77
    canvas, label = _compose(layout, segments)
    assert np.all(canvas[building] == 0) and np.all(label[building] == BUILDING - 1)


def test_shadow_removal_clears_road_pixels_near_the_source_images_vehicles():
    layout, segments, road, car = _scene()
    source_label = np.full(SHAPE, ROAD - 1, np.uint8)
    source_label[40:56, 10:30] = CAR - 1   # a car stood here in the retrieved road image
    near = road & ~car & canvas_ops.boundary_band(source_label == CAR - 1, canvas_ops.band_width(0.06, 64))
    with_trick, _ = test_generate_canvas.compose_canvas(layout, segments, {}, lambda _: source_label,
                                                        np.random.default_rng(0), class_table.CITYSCAPES, ("shadow_removal",))
    without, _ = test_generate_canvas.compose_canvas(layout, segments, {}, lambda _: source_label,
                                                     np.random.default_rng(0), class_table.CITYSCAPES, ())
    cleared = np.all(with_trick == 0, axis=2)
    assert np.all(cleared[near]) and not np.any(cleared[road & ~car & ~near])
    assert not np.any(np.all(without[road & ~car] == 0, axis=1))


def test_the_vegetation_band_is_cleared():
    layout, segments, _, car = _scene()
    segments.classes = np.array([ROAD, 9])
    canvas, _ = _compose(layout, segments, tricks=("vegetation_band",))
    band = canvas_ops.boundary_band(car, canvas_ops.band_width(0.04, 64))
    assert np.all(canvas[band & car] == 0) and np.all(canvas[car & ~band] > 0)


# --- the steps' files ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def canvas_root(searched_small_root, module_folder):
    root = root_after_steps(searched_small_root, module_folder("canvas"), train_generate_order,
                            test_generate_transform, test_generate_order)
    for level in ("512", "256", "1024"):
        if level != "512":
            test_generate_transform.main(["--root", str(root), "--level", level])
        test_generate_canvas.main(["--root", str(root), "--level", level])
    train_generate_synthesis.main(["--root", str(root), "--sets", "2"])
    return root


@pytest.mark.parametrize("level_name, level", [("512", 2), ("256", 1), ("1024", 4)])
def test_test_canvas_files_hold_the_original_variables(canvas_root, level_name, level):
    sizes = data_root.load_sizes(canvas_root)
    shape = sizes.shape(level)
    for image_id in data_root.list_image_ids(canvas_root / "testdata" / "label_refine"):
        mat_path, jpg_path = test_generate_canvas.output_files(canvas_root, image_id, level_name)
        content = file_io.load_mat(mat_path, ["proposal", "answer", "label"])
        proposal, label = content["proposal"], content["label"]
        count = file_io.load_mat(test_generate_transform.output_file(canvas_root, image_id, level_name)[0],
                                ["class"])["class"].size
        assert proposal.dtype == np.float32 and proposal.shape == shape + (3,)
        assert proposal.min() >= 0 and proposal.max() <= 1 and (proposal > 0).any()
        assert content["answer"].dtype == np.uint8 and content["answer"].size == count * shape[0] * shape[1] * 3
        assert label.dtype == np.uint8 and label.shape == shape + (3,)
        assert labels.label_to_index(label, class_table.CITYSCAPES)[1] == 0   # only palette colours and black
        assert file_io.read_image(jpg_path).shape == shape + (3,)


def _training_canvas_pixels(root):
    """(pixels equal to the image's own, other painted pixels) over all training canvases; white
    elision pixels left out. Checks the files' variables and the revised labels on the way."""
    shape = data_root.load_sizes(root).shape(2)
    own_pixels = other_pixels = 0
    for image_id in data_root.list_image_ids(root / "traindata" / "RGB256Full"):
        name = data_root.image_name(image_id)
        image = file_io.read_image(root / "traindata" / "RGB512Full" / f"{name}.png")
        layout = matlab_image_ops.resize_nearest(labels.read_label(root / "traindata" / "label_refine" / f"{name}.png", class_table.CITYSCAPES), shape)
        for set_number in (1, 2):
            mat_path, label_path = train_generate_synthesis.set_files(root, image_id, "512", set_number)
            content = file_io.load_mat(mat_path, ["proposal", "mask"])
            proposal, coverage = content["proposal"], content["mask"]
            assert proposal.dtype == coverage.dtype == np.uint8 and proposal.shape == shape + (3,)
            assert coverage.shape == shape and coverage.max() >= 1
            painted = (proposal.sum(axis=2) > 0) & ~np.all(proposal == 255, axis=2)
            equal = np.all(np.abs(proposal.astype(int) - image) <= 1, axis=2)
            own_pixels += (painted & equal).sum()
            other_pixels += (painted & ~equal).sum()
            revised = labels.read_label(label_path, class_table.CITYSCAPES)
            assert np.all((revised == layout) | (revised == class_table.VOID_INDEX))
            assert (revised == class_table.VOID_INDEX).sum() >= (layout == class_table.VOID_INDEX).sum()
    return own_pixels, other_pixels


def test_training_canvases_take_the_images_own_pixels(canvas_root, tmp_path):
    own_pixels, recoloured = _training_canvas_pixels(canvas_root)
    assert own_pixels > 1000 and recoloured > 0   # some pieces took the retrieved image's colours
    plain = root_after_steps(canvas_root, tmp_path)
    shutil.rmtree(plain / "traindata" / "synthesis")
    train_generate_synthesis.main(["--root", str(plain), "--sets", "2", "--colour-transfer-chance", "0"])
    own_pixels, recoloured = _training_canvas_pixels(plain)
    assert own_pixels > 1000 and recoloured == 0


def test_a_rerun_gives_identical_canvases(canvas_root, tmp_path):
    again = root_after_steps(canvas_root, tmp_path)
    for path in (again / "testdata" / "synthesis" / "transform_order_512").glob("*.mat"):
        path.unlink()
    test_generate_canvas.main(["--root", str(again)])
    for path in sorted((canvas_root / "testdata" / "synthesis" / "transform_order_512").glob("*.mat")):
        first = file_io.load_mat(path, ["proposal"])["proposal"]
        second = file_io.load_mat(again / path.relative_to(canvas_root), ["proposal"])["proposal"]
        np.testing.assert_array_equal(first, second)


def test_canvases_made_from_other_network_results_are_made_again(canvas_root, tmp_path):
    root = root_after_steps(canvas_root, tmp_path)
    folder = root / "testdata" / "synthesis" / "transform_order_512"
    files = sorted(folder.glob("*.mat")) + sorted(folder.with_name(folder.name + "_canvas").glob("*.jpg"))
    before = [path.stat().st_mtime_ns for path in files]
    assert len(files) == 6
    test_generate_canvas.main(["--root", str(root)])   # the same sources: all skipped
    assert [path.stat().st_mtime_ns for path in files] == before
    # the ordering network's test phase records the checkpoint its predictions come from
    predictions = {"checkpoint": "ckpt-9", "sha256": "0" * 64, "inputs": []}
    per_image_runner.keep_outputs_made_from(predictions, root / "result" / "order" / "data", ".mat")
    test_generate_canvas.main(["--root", str(root)])
    assert all(path.exists() for path in files)
    assert all(path.stat().st_mtime_ns != time for path, time in zip(files, before))
    assert per_image_runner.made_from(folder)["ordering_predictions"] == predictions
    # other options make other canvases too
    test_generate_canvas.main(["--root", str(root), "--no-outer-elision"])
    assert per_image_runner.made_from(folder)["options"]["tricks"] == [
        "shadow_removal", "vegetation_band", "inner_elision", "context_fill"]


def test_resize_transform_writes_level_2_labels(searched_small_root, tmp_path):
    root = root_after_steps(searched_small_root, tmp_path)
    shutil.rmtree(root / "traindata" / "label_refine_512")
    resize_transform.main(["--root", str(root)])
    sizes = data_root.load_sizes(root)
    for path in sorted((root / "traindata" / "label_refine").glob("*.png")):
        resized = labels.read_label(root / "traindata" / "label_refine_512" / path.name, class_table.CITYSCAPES, shape=sizes.shape(2))
        np.testing.assert_array_equal(resized, matlab_image_ops.resize_nearest(labels.read_label(path, class_table.CITYSCAPES), sizes.shape(2)))


def test_predictions_that_do_not_fit_the_pairs_are_one_clear_error(canvas_root, tmp_path):
    root = root_after_steps(canvas_root, tmp_path)
    file_io.save_mat(root / "result" / "order" / "data" / "00100001.mat", {"prediction": np.zeros((1, 7), np.float32)})
    with pytest.raises(errors.DataError, match="does not hold 20 scores"):
        test_generate_canvas.read_order(root, 100001, class_table.CITYSCAPES.count)


# --- the training canvases' rules, on constructed cases -------------------------------------------

def test_a_later_segment_regains_its_pixels_that_an_earlier_ones_perturbation_voided():
    label = np.full(SHAPE, SKY - 1)
    label[30:, :] = ROAD - 1
    label[20:40, 40:80] = CAR - 1                      # the car touches the road and stands in front
    road, car = label == ROAD - 1, label == CAR - 1
    road_spill = np.zeros(SHAPE, bool)
    road_spill[25:45, 30:90] = True                    # the road's perturbed copy reaches over the car
    car_spill = np.zeros(SHAPE, bool)
    car_spill[18:20, 40:80] = True                     # the car's own copy spills into the sky
    revised = train_generate_synthesis.revise_label(label, [(ROAD, road, road_spill), (CAR, car, car_spill)])
    np.testing.assert_array_equal(revised[car], CAR - 1)         # restored before its own voiding
    assert np.all(revised[road_spill & ~road & ~car] == class_table.VOID_INDEX)
    assert np.all(revised[18:20, 40:80] == class_table.VOID_INDEX)
    # the other order: the road comes later and voids the car for good, the road keeps its pixels
    revised = train_generate_synthesis.revise_label(label, [(CAR, car, car_spill), (ROAD, road, road_spill)])
    assert np.all(revised[road_spill & car] == class_table.VOID_INDEX)
    np.testing.assert_array_equal(revised[road], ROAD - 1)


def test_a_segment_under_the_threshold_only_restores_its_class():
    label = np.full(SHAPE, ROAD - 1)
    label[10:14, 10:14] = CAR - 1
    small = label == CAR - 1
    voided = np.zeros(SHAPE, bool)
    voided[5:20, 5:20] = True
    revised = train_generate_synthesis.revise_label(label, [(ROAD, label == ROAD - 1, voided), (CAR, small, None)])
    np.testing.assert_array_equal(revised[small], CAR - 1)
    assert np.all(revised[voided & ~small] == ROAD - 1)   # the road's own spill stays inside the road


def test_a_recoloured_piece_fills_the_retrieved_shape_inside_the_querys_box():
    rng = np.random.default_rng(0)
    image = rng.random(SHAPE + (3,))
    source = rng.random(SHAPE + (3,)) * 0.5 + 0.5
    query = np.zeros(SHAPE, bool)
    query[20:40, 30:70] = True
    retrieved = np.zeros(SHAPE, bool)
    retrieved[25:50, 40:90] = True                     # overshoots the query below and to the right
    valid = query & retrieved
    plain = train_generate_synthesis.canvas_piece(image, valid, retrieved, query)
    np.testing.assert_array_equal(canvas_ops.content_mask(plain), valid)
    recoloured = train_generate_synthesis.canvas_piece(image, valid, retrieved, query, recolour_from=source)
    box = np.zeros(SHAPE, bool)
    box[20:40, 30:70] = True
    np.testing.assert_array_equal(canvas_ops.content_mask(recoloured), retrieved & box)
    expected = colour_transfer.transfer_image(image[20:40, 30:70], source[20:40, 30:70])
    np.testing.assert_allclose(recoloured[20:40, 30:70], expected * retrieved[20:40, 30:70, None])


@pytest.mark.parametrize("shift_x, shift_y", [(0.03, 0.02), (-0.01, 0.03), (0.02, -0.001), (0.0, -0.02)])
def test_a_subpixel_linear_shift_grows_the_mask_by_a_pixel_in_its_direction(shift_x, shift_y):
    import scipy.ndimage

    mask = np.zeros((20, 30), bool)
    mask[5:12, 8:20] = True
    mask[12:15, 10:12] = True
    mask[0:3, 0:4] = True                                  # touches the border: nothing wraps round
    shifted = scipy.ndimage.shift(mask.astype(float), (shift_y, shift_x), order=1, mode="grid-constant")
    np.testing.assert_array_equal(train_generate_synthesis.linear_shift_support(mask, shift_x, shift_y),
                                  shifted > 0)


def test_the_perturbed_copy_covers_a_rotated_and_slightly_grown_segment():
    mask = np.zeros(SHAPE, bool)
    mask[20:40, 30:60] = True
    rng = np.random.default_rng(3)
    for _ in range(20):
        copy = train_generate_synthesis.perturbed_copy(mask, rng)
        assert copy.shape == SHAPE
        assert mask.sum() * 0.8 < copy.sum() < mask.sum() * 1.3


# --- canvases at other levels -----------------------------------------------------------------

def test_level_1_and_4_segments_are_cut_from_the_levels_own_images(canvas_root):
    sizes = data_root.load_sizes(canvas_root)
    train_ids = data_root.list_image_ids(canvas_root / "traindata" / "RGB256Full")
    for level_name, folder in (("256", "RGB256Full"), ("1024", "RGB1024Full")):
        shape = sizes.shape(data_root.LEVELS[level_name])
        for image_id in data_root.list_image_ids(canvas_root / "testdata" / "label_refine"):
            content = file_io.load_mat(test_generate_transform.output_file(canvas_root, image_id, level_name)[0],
                                      ["proposal", "response_index"])
            proposals = content["proposal"].reshape((-1,) + shape + (3,))
            for proposal, response in zip(proposals, content["response_index"].ravel()):
                source = file_io.read_image(canvas_root / "traindata" / folder /
                                           f"{data_root.image_name(train_ids[response - 1])}.png")
                shown = proposal.sum(axis=2) > 0
                assert shown.any()
                np.testing.assert_array_equal(proposal[shown], source[shown])


def test_level_4_follows_the_1024_variant():
    settings = test_generate_canvas.LEVEL_SETTINGS["1024"]
    assert settings["aligner"] == "none" and test_generate_canvas.LEVEL_SETTINGS["512"]["aligner"] == "affine"
    widths = {name: canvas_ops.band_width(fraction, 1024) for name, fraction in settings["bands"].items()}
    assert widths == {"shadow": 31, "vegetation": 21, "inner": 25, "outer": 41}
    assert {name: canvas_ops.band_width(fraction, 512)
            for name, fraction in test_generate_canvas.LEVEL_SETTINGS["512"]["bands"].items()} == \
        {"shadow": 30, "vegetation": 20, "inner": 17, "outer": 40}


def test_level_4_canvases_paste_unaligned_segments_unless_asked_and_the_aligner_is_chosen(canvas_root, tmp_path):
    root = root_after_steps(canvas_root, tmp_path)
    image_id = data_root.list_image_ids(root / "testdata" / "label_refine")[0]
    name = data_root.image_name(image_id)
    # results of both aligners that fit every query exactly, each in its own colour
    masks = file_io.load_mat(test_generate_transform.output_file(root, image_id)[0], ["mask"])["mask"]
    colours = {"affine": np.array([7, 250, 7], np.uint8), "flow": np.array([250, 7, 250], np.uint8)}
    for aligner, colour in colours.items():
        file_io.save_mat(root / test_generate_canvas.ALIGNER_RESULTS[aligner] / f"{name}.mat",
                        {"transferred": (masks[..., None] * colour).astype(np.uint8)})
    mat_path = test_generate_canvas.output_files(root, image_id, "1024")[0]

    def shown(colour):
        canvas = file_io.load_mat(mat_path, ["proposal"])["proposal"]
        return np.all(np.abs(canvas - colour / 255) < 1e-6, axis=2).sum()

    assert shown(colours["affine"]) == shown(colours["flow"]) == 0   # level 1024 pastes them unaligned
    for options, aligner in ((["--transform"], "affine"), (["--aligner", "flow"], "flow")):
        test_generate_canvas.main(["--root", str(root), "--level", "1024", *options])   # other sources: made again
        assert shown(colours[aligner]) > 100
        assert shown(colours["flow" if aligner == "affine" else "affine"]) == 0


def test_a_level_without_its_segments_is_one_clear_error(canvas_root, tmp_path):
    root = root_after_steps(canvas_root, tmp_path)
    shutil.rmtree(root / "testdata" / "transform" / "transform_256")
    shutil.rmtree(root / "testdata" / "synthesis" / "transform_order_256")
    result = run_script("data_prep/test_generate_canvas.py", "--root", root, "--level", "256")
    (line,) = error_lines(result.stderr)
    assert result.returncode != 0 and "transform_256" in line and "test_generate_transform.py --level 256" in line
