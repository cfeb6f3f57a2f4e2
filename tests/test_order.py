"""Occlusion ordering: the depth labels, the pairs, the class order, the network and its script."""

import json
import shutil

import numpy as np
import pytest
import tensorflow as tf

import class_table
import data_root
import file_io
import labels
import make_demo_dataset
import matlab_image_ops
import order
import per_image_runner
import segment_pairs
import segments
import test_connect_component_mask
import test_generate_order
import train_generate_order
import training
from conftest import error_lines, root_after_steps, run_script, shared_path
from order_network import DROPOUT_RATE, HIDDEN_UNITS, OrderNetwork, batch_losses

LEVEL1 = (32, 64)


@pytest.fixture(scope="module")
def order_root(searched_small_root, module_folder):
    return root_after_steps(searched_small_root, module_folder("order"), train_generate_order, test_generate_order)


# --- the class order ----------------------------------------------------------------------------

def test_the_order_derived_from_the_reference_frequencies_is_the_reference_order():
    frequency = file_io.load_mat(shared_path("sims_reference", "order_frequency.mat"), ["frequency"])["frequency"]
    expected = file_io.load_mat(shared_path("sims_reference", "order.mat"), ["order"])["order"].ravel()
    assert class_table.class_order_from_frequency(frequency, class_table.CITYSCAPES.order) == tuple(int(c) for c in expected)


def test_a_class_without_pairs_keeps_its_usual_place():
    counts = np.zeros((19, 19))
    counts[0, 13] = 5   # road behind car
    counts[2, 0] = 3    # building behind road
    derived = class_table.class_order_from_frequency(counts, class_table.CITYSCAPES.order)
    assert derived[0] == 11                      # sky: no pair, first in the Cityscapes order
    assert derived.index(3) < derived.index(1) < derived.index(14)
    assert sorted(derived) == list(range(1, 20))


def test_the_dataset_order_is_written_and_then_used(order_root):
    frequency = file_io.load_mat(order_root / "traindata" / "order_frequency.mat", ["frequency"])["frequency"]
    written = file_io.load_mat(order_root / "traindata" / "order.mat", ["order"])["order"].ravel()
    pair_total = sum(len(train_generate_order.read_pair_labels(path)[1])
                     for path in (order_root / "traindata" / "order").glob("*.mat"))
    assert frequency.shape == (19, 19) and frequency.sum() == pair_total > 0
    assert tuple(int(c) for c in written) == class_table.class_order_from_frequency(frequency, class_table.CITYSCAPES.order)
    assert class_table.class_order(order_root, class_table.CITYSCAPES) == tuple(int(c) for c in written)
    assert written[0] == 11  # sky has no valid disparity in the demo, and stays at the back


# --- depth labels -------------------------------------------------------------------------------

def _generator_front(scene_instances, occlusions, first, second):
    """+1 when the generator painted part of `first` over `second`, -1 for the reverse, else None."""
    first_ids, second_ids = set(np.unique(scene_instances[first])), set(np.unique(scene_instances[second]))
    over = any((a, b) in occlusions for a in first_ids for b in second_ids)
    under = any((b, a) in occlusions for a in first_ids for b in second_ids)
    return None if over == under else (1 if over else -1)


def test_depth_labels_agree_with_the_generators_depth_order(order_root):
    """Truth: which segment the generator painted over the other. Left out: pairs of a ground
    class (road, sidewalk, terrain) with a non-object (building, wall, vegetation...), which meet
    along a contact line at one depth, so that painting order says nothing about depth there."""
    sizes = data_root.load_sizes(order_root)
    seed = json.loads((order_root / "dataset.json").read_text())["seed"]
    agreed = compared = 0
    for image_id in data_root.list_image_ids(order_root / "traindata" / "label_refine"):
        rng = per_image_runner.image_rng(seed, image_id)  # the generator's own draws: the same scene again
        guaranteed = make_demo_dataset.GUARANTEED_CLASSES[image_id % len(make_demo_dataset.GUARANTEED_CLASSES)]
        scene = make_demo_dataset.render_scene(rng, *sizes.shape(4), guaranteed=guaranteed)
        instances = matlab_image_ops.resize_nearest(scene.instance, LEVEL1)
        pairs, fronts = train_generate_order.read_pair_labels(
            train_generate_order.output_file(order_root, image_id)[0])
        for (j, k, first_class, second_class), front in zip(pairs, fronts):
            if _contact_only(first_class, second_class):
                continue
            first = segment_mask(order_root / "traindata" / "original_segment", first_class, image_id, j)
            second = segment_mask(order_root / "traindata" / "original_segment", second_class, image_id, k)
            truth = _generator_front(instances, scene.occlusions, first, second)
            if truth is None:
                continue
            compared += 1
            agreed += (front == first_class) == (truth == 1)
    assert compared >= 50
    assert agreed >= 0.95 * compared, (agreed, compared)


def _contact_only(first_class, second_class):
    ground = {first_class, second_class} & set(class_table.CITYSCAPES.ids("planar"))
    return bool(ground) and not {first_class, second_class} & set(class_table.CITYSCAPES.ids("standing"))


def segment_mask(folder, class_id, image_id, j):
    (masks,) = segments.read_segment_masks(segments.segment_file(folder, class_id, image_id), LEVEL1,
                                           names=("library_mask",))
    return masks[:, :, j - 1] > 0


def _touching_blocks():
    road = np.zeros(LEVEL1, bool)
    road[20:, :] = True
    car = np.zeros(LEVEL1, bool)
    car[10:20, 20:40] = True
    return road, car


def test_the_planar_rule_puts_objects_in_front_whatever_the_disparity():
    road, car = _touching_blocks()
    disparity = np.where(road, 900, 400).astype(np.uint16)   # the road measured closer than the car
    assert segment_pairs.front_class(road, car, 1, 14, disparity, class_table.CITYSCAPES) == 14
    assert segment_pairs.front_class(car, road, 14, 1, disparity, class_table.CITYSCAPES) == 14
    building = car
    assert segment_pairs.front_class(road, building, 1, 3, disparity, class_table.CITYSCAPES) == 1   # a building is not an object
    assert segment_pairs.front_class(building, road, 3, 1, np.where(road, 400, 900).astype(np.uint16), class_table.CITYSCAPES) == 3
    # switched off (--no-planar-rule), the depth decides: the road is closer
    assert segment_pairs.front_class(road, car, 1, 14, disparity, class_table.CITYSCAPES, planar_rule=False) == 1
    assert segment_pairs.front_class(car, road, 14, 1, disparity, class_table.CITYSCAPES, planar_rule=False) == 1


def test_pairs_without_disparity_or_contact_are_not_labelled():
    road, car = _touching_blocks()
    no_car_disparity = np.where(road, 900, 0).astype(np.uint16)
    assert segment_pairs.front_class(road, car, 1, 14, no_car_disparity, class_table.CITYSCAPES) is None
    far_car = np.zeros(LEVEL1, bool)
    far_car[2:8, 2:8] = True
    assert segment_pairs.touching(road, car) and not segment_pairs.touching(road, far_car)


# --- the pair files -----------------------------------------------------------------------------

def test_test_pair_masks_hold_exactly_the_two_segments(order_root):
    sizes = data_root.load_sizes(order_root)
    order_list = class_table.class_order(order_root, class_table.CITYSCAPES)
    checked = 0
    for image_id in data_root.list_image_ids(order_root / "testdata" / "label_refine"):
        path = test_generate_order.output_file(order_root, image_id)[0]
        pair_masks, rows = order.read_pairs(path, LEVEL1, 4)
        assert pair_masks.dtype == np.uint8 and len(pair_masks) == len(rows) > 0
        for pair_mask, (j, k, first_class, second_class) in zip(pair_masks, rows.astype(int)):
            assert order_list.index(first_class) < order_list.index(second_class)
            first = segment_mask(order_root / "testdata" / "original_mask", first_class, image_id, j)
            second = segment_mask(order_root / "testdata" / "original_mask", second_class, image_id, k)
            assert first.sum() > sizes.area_threshold and second.sum() > sizes.area_threshold
            index = labels.label_to_index(pair_mask, class_table.CITYSCAPES)[0]
            np.testing.assert_array_equal(index == first_class - 1, first)
            np.testing.assert_array_equal(index == second_class - 1, second)
            assert np.all(pair_mask[~(first | second)] == 0)
            checked += 1
    assert checked > 20


def test_a_missing_disparity_map_is_reported_and_skipped(order_root, tmp_path, caplog):
    root = tmp_path / "root"
    shutil.copytree(order_root, root)
    shutil.rmtree(root / "traindata" / "order")
    (root / "traindata" / "order.mat").unlink()
    missing = root / "traindata" / "disparity" / "00000003.png"
    missing.unlink()
    train_generate_order.main(["--root", str(root)])
    assert any(str(missing) in record.getMessage() and record.levelname == "WARNING" for record in caplog.records)
    written = sorted(path.stem for path in (root / "traindata" / "order").glob("*.mat"))
    assert "00000003" not in written and len(written) == 11
    assert (root / "traindata" / "order.mat").exists()


# --- the network --------------------------------------------------------------------------------

def test_a_few_steps_overfit_a_tiny_batch(order_root):
    pair_masks, fronts = order.read_pairs(order_root / "traindata" / "order" / "00000001.mat", LEVEL1, 1)
    label = file_io.read_image(order_root / "traindata" / "label_refine" / "00000001.png", shape=LEVEL1)
    chosen = [list(fronts[:, 0]).index(front) for front in sorted(set(fronts[:, 0]))][:3]  # 3 different answers
    targets = tf.constant(fronts[chosen, 0], tf.int32)
    tf.random.set_seed(1)
    network = OrderNetwork(19)
    train_step = training.make_train_step(tf.distribute.get_strategy(), network, tf.keras.optimizers.Adam(2e-4),
                                           lambda batch: batch_losses(network, batch))
    rng = np.random.default_rng(1)

    def batch(keep):
        return {"pair_masks": tf.constant(pair_masks[chosen][None]), "label": tf.constant(label[None]),
                "front": targets[None],
                "pair_weight": tf.ones([1, len(chosen)]), "dropout_keep": tf.constant(keep[None], tf.float32),
                "weight": tf.ones([1])}

    def loss():   # without dropout, as at test time: keeping every unit at 1 - rate undoes the scaling
        keep_all = np.full((len(chosen), HIDDEN_UNITS), 1 - DROPOUT_RATE)
        return float(batch_losses(network, batch(keep_all))[0]["loss"][0])

    before = loss()
    losses = [float(train_step(batch(rng.random((len(chosen), HIDDEN_UNITS)) >= DROPOUT_RATE))[0]["loss"])
              for _ in range(60)]
    after = loss()
    assert after < 0.35 * before and np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5]), (before, after, losses)


def test_variables_keep_the_original_scopes():
    names = {v.name for v in OrderNetwork(19).trainable_variables}
    for expected in ("g_selection_conv1/g_selection_conv1_2/weights:0", "g_selection_conv5/g_selection_conv5_3/"
                     "LayerNorm/gamma:0", "g_selection_conv6/weights:0", "g_selection_conv6/LayerNorm/beta:0",
                     "g_selection_classify/weights:0", "g_selection_classify/biases:0"):
        assert any(name.endswith(expected) for name in names), expected


def test_the_learning_rate_warms_up_as_the_original():
    assert order.learning_rate(1) == pytest.approx(1e-6)
    assert order.learning_rate(2) == pytest.approx(1.1e-6)
    assert order.learning_rate(100) == pytest.approx(1e-5)


def test_training_and_test_phase_write_predictions_and_an_empty_file_without_pairs(order_root, tmp_path):
    root = tmp_path / "root"
    shutil.copytree(order_root, root)
    lonely = data_root.FIRST_TEST_ID + 50  # a layout of one class has no pair
    file_io.write_image(root / "testdata" / "label_refine" / f"{data_root.image_name(lonely)}.png",
                       labels.index_to_label(np.full(LEVEL1, 10, np.uint8), class_table.CITYSCAPES))
    test_connect_component_mask.main(["--root", str(root)])
    test_generate_order.main(["--root", str(root)])
    order.main(["--train", "--root", str(root), "--max-steps", "3"])
    tested = run_script("python_code/order.py", "--test", "--root", root)
    assert tested.returncode == 0, tested.stderr
    for image_id in data_root.list_image_ids(root / "testdata" / "order", suffix=".mat"):
        pairs = len(order.read_pairs(test_generate_order.output_file(root, image_id)[0], LEVEL1, 4)[1])
        result = root / "result" / "order" / "data" / f"{data_root.image_name(image_id)}.mat"
        prediction = file_io.load_mat(result, ["prediction"])["prediction"]
        assert prediction.dtype == np.float32 and prediction.size == pairs * 20
        assert np.isfinite(prediction).all()
        if image_id == lonely:
            assert pairs == 0
    # a second test phase with the same checkpoint skips every result; after more training it
    # writes them again from the newer checkpoint
    results = sorted((root / "result" / "order" / "data").glob("*.mat"))
    before = [path.stat().st_mtime_ns for path in results]
    order.main(["--test", "--root", str(root)])
    assert [path.stat().st_mtime_ns for path in results] == before
    assert per_image_runner.made_from(root / "result" / "order" / "data")["checkpoint"] == "ckpt-3"
    order.main(["--train", "--root", str(root), "--max-steps", "4"])
    tested = run_script("python_code/order.py", "--test", "--root", root)
    assert tested.returncode == 0 and "removing" in tested.stderr
    assert all(path.stat().st_mtime_ns != time for path, time in zip(results, before))
    assert per_image_runner.made_from(root / "result" / "order" / "data")["checkpoint"] == "ckpt-4"


def test_a_missing_checkpoint_is_one_clear_error(tmp_path):
    result = run_script("python_code/order.py", "--test", "--root", tmp_path)
    assert result.returncode != 0
    (line,) = error_lines(result.stderr)
    assert str(tmp_path / "trainedmodels" / "order") in line
    assert not (tmp_path / "trainedmodels").exists()  # a failed test phase leaves nothing behind


def test_the_evaluation_prints_three_accuracies(order_root, tmp_path):
    root = tmp_path / "root"
    shutil.copytree(order_root, root)
    assert run_script("python_code/order.py", "--train", "--root", root, "--max-steps", 2).returncode == 0
    result = run_script("benchmarks/eval_order.py", "--root", root, "--images", 6)
    assert result.returncode == 0, result.stderr
    lines = dict(line.split("=") for line in result.stdout.split())
    assert set(lines) == {"order_network_accuracy", "majority_class_accuracy", "class_order_accuracy"}
    assert all(0 <= float(value) <= 1 for value in lines.values())
