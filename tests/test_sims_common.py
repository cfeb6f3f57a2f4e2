import json

import cv2
import numpy as np
import pytest
import scipy.io

import sims_common as common
from conftest import shared_path


# --- palette, class order, label maps --------------------------------------------------------

def test_palette_equals_original_mapping():
    mapping = scipy.io.loadmat(shared_path("sims_reference", "mapping.mat"))["mapping"]
    np.testing.assert_array_equal(common.PALETTE, mapping)


def test_palette_starts_the_original_colormap():
    colormap = scipy.io.loadmat(shared_path("sims_reference", "cityscapes_colormap.mat"))["colormap"]
    np.testing.assert_array_equal(np.round(colormap[:19] * 255).astype(np.uint8), common.PALETTE)


def test_class_order_is_the_original_order_and_follows_from_its_frequencies():
    order = scipy.io.loadmat(shared_path("sims_reference", "order.mat"))["order"].ravel().tolist()
    frequency = scipy.io.loadmat(shared_path("sims_reference", "order_frequency.mat"))["frequency"]
    assert list(common.CITYSCAPES_CLASS_ORDER) == order
    assert list(common.class_order_from_frequency(frequency)) == order


def test_label_to_index_maps_palette_void_and_unknown_colours():
    label = np.zeros((2, 21, 3), np.uint8)
    label[0, :19] = common.PALETTE
    label[0, 19] = (0, 0, 0)          # void
    label[0, 20] = (1, 2, 3)          # not in the palette
    label[1, :] = (128, 64, 128)      # road
    label[1, 3] = (128, 64, 129)      # one step away from road: unknown
    index, unknown = common.label_to_index(label)
    assert index.dtype == np.uint8
    assert index[0, :19].tolist() == list(range(19))
    assert index[0, 19] == 255 and index[0, 20] == 255
    assert index[1, 3] == 255 and (np.delete(index[1], 3) == 0).all()
    assert unknown == 2  # black is void, not unknown


def test_index_to_label_inverts_label_to_index():
    rng = np.random.default_rng(1)
    index = rng.integers(0, 20, (16, 32)).astype(np.uint8)
    index[index == 19] = 255
    label = common.index_to_label(index)
    assert label.shape == (16, 32, 3) and label.dtype == np.uint8
    assert (label[index == 255] == 0).all()
    back, unknown = common.label_to_index(label)
    np.testing.assert_array_equal(back, index)
    assert unknown == 0


def test_one_hot_has_19_classes_and_a_void_channel():
    index = np.array([[0, 18, 255], [5, 255, 13]], np.uint8)
    one_hot = common.one_hot_labels(index)
    assert one_hot.shape == (2, 3, 20) and one_hot.dtype == np.float32
    np.testing.assert_array_equal(one_hot.sum(axis=-1), 1)
    assert one_hot[0, 1, 18] == 1 and one_hot[1, 2, 13] == 1
    assert one_hot[0, 2, 19] == 1 and one_hot[1, 1, 19] == 1 and one_hot[0, 0, 19] == 0


# --- MATLAB-compatible operations -------------------------------------------------------------

def test_resize_nearest_matches_matlab_known_cases():
    # imresize([1 2 3], [1 5], 'nearest') = [1 1 2 3 3]; imresize(1:4, [1 2], 'nearest') = [2 4]
    assert common.resize_nearest(np.array([[1, 2, 3]]), (1, 5)).tolist() == [[1, 1, 2, 3, 3]]
    assert common.resize_nearest(np.array([[1, 2, 3, 4]]), (1, 2)).tolist() == [[2, 4]]
    # Doubling repeats every pixel twice (MATLAB's 256 -> 512 label resize).
    assert common.resize_nearest(np.array([[1, 2], [3, 4]]), (4, 4)).tolist() == [
        [1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]


def test_resize_nearest_breaks_exact_ties_as_matlab():
    # 2048 -> 192: output column 5 (1-based) has u = 5/0.09375 - 4.8333 = 48.5 exactly, and
    # MATLAB's kernel (-0.5 <= u - c < 0.5) takes column 49, i.e. 0-based 48.
    row = np.arange(2048)[None, :]
    assert common.resize_nearest(row, (1, 192))[0, 4] == 48
    assert common.resize_nearest(row, (1, 192))[0, 0] == 5   # u = 5.8333 -> column 6


@pytest.mark.parametrize("in_shape,out_shape", [((64, 128), (128, 256)), ((256, 512), (64, 128)),
                                                ((37, 53), (100, 20)), ((1024, 2048), (256, 512))])
def test_resize_nearest_equals_opencv_exact_nearest_away_from_ties(in_shape, out_shape):
    # OpenCV's INTER_NEAREST_EXACT samples pixel centres like MATLAB (plain INTER_NEAREST does
    # not); it agrees wherever its fixed-point arithmetic meets no exact tie, as in these sizes.
    image = np.random.default_rng(0).integers(0, 255, in_shape + (3,), dtype=np.uint8)
    expected = cv2.resize(image, out_shape[::-1], interpolation=cv2.INTER_NEAREST_EXACT)
    np.testing.assert_array_equal(common.resize_nearest(image, out_shape), expected)


def test_connected_components_are_numbered_in_column_major_order():
    mask = np.array([[1, 0, 0, 1],
                     [0, 0, 0, 1],
                     [0, 1, 0, 0]], bool)
    labels, count = common.connected_components(mask)
    # bwlabel scans columns first: (1,1) -> 1, (3,2) -> 2, column 4 -> 3.
    assert count == 3
    assert labels.tolist() == [[1, 0, 0, 3], [0, 0, 0, 3], [0, 2, 0, 0]]


def test_connected_components_use_eight_connectivity():
    mask = np.array([[1, 0, 0],
                     [0, 1, 0],
                     [0, 0, 1]], bool)
    labels, count = common.connected_components(mask)
    assert count == 1 and set(labels[mask].tolist()) == {1}


def test_sobel_edge_follows_matlab_thinning_rule():
    mask = np.zeros((10, 10), bool)
    mask[3:7, 3:7] = True  # rows/columns 4..7 in MATLAB's 1-based terms
    edge = common.sobel_edge(mask)
    # Across a step the two pixels have equal gradient; MATLAB keeps the one whose right (lower)
    # neighbour is weaker: inside the mask on its left/top side, outside on its right/bottom side.
    for row in (4, 5):
        assert np.flatnonzero(edge[row]).tolist() == [3, 7]
    for col in (4, 5):
        assert np.flatnonzero(edge[:, col]).tolist() == [3, 7]
    assert not common.sobel_edge(np.zeros((5, 5), bool)).any()
    assert not common.sobel_edge(np.ones((5, 5), bool)).any()


def test_dilate_square_odd_and_even_widths_match_matlab_origin():
    mask = np.zeros((12, 12), bool)
    mask[5, 5] = True
    odd = common.dilate_square(mask, 3)
    assert np.argwhere(odd).min(0).tolist() == [4, 4] and np.argwhere(odd).max(0).tolist() == [6, 6]
    # strel('square', 4) has its origin at element 2: offsets -1..+2.
    even = common.dilate_square(mask, 4)
    assert np.argwhere(even).min(0).tolist() == [4, 4] and np.argwhere(even).max(0).tolist() == [7, 7]
    assert even.sum() == 16
    np.testing.assert_array_equal(common.dilate_square(mask, 1), mask)


# --- sizes and the data root ------------------------------------------------------------------

@pytest.mark.parametrize("base_height", [32, 64, 96, 128, 160, 192, 224, 256])
def test_sizes_derive_from_base_height(base_height):
    sizes = common.Sizes(base_height)
    assert sizes.shape(1) == (base_height, 2 * base_height)
    assert sizes.shape(2) == (2 * base_height, 4 * base_height)
    assert sizes.shape(4) == (4 * base_height, 8 * base_height)
    assert sizes.area_threshold == pytest.approx(1000 * base_height ** 2 / 256 ** 2)


def test_area_threshold_is_the_original_at_256():
    assert common.Sizes(256).area_threshold == 1000


@pytest.mark.parametrize("bad", [0, 16, 48, 100, -32])
def test_sizes_reject_heights_that_are_not_multiples_of_32(bad):
    with pytest.raises(common.DataError, match="multiple of 32"):
        common.Sizes(bad)


def test_load_sizes_defaults_to_256_and_reads_dataset_json(tmp_path):
    assert common.load_sizes(tmp_path).base_height == 256
    (tmp_path / "dataset.json").write_text(json.dumps({"base_height": 64}))
    assert common.load_sizes(tmp_path).base_height == 64


def test_load_sizes_reports_a_broken_dataset_json_by_name(tmp_path):
    (tmp_path / "dataset.json").write_text("{not json")
    with pytest.raises(common.DataError, match="dataset.json: not a valid"):
        common.load_sizes(tmp_path)
    (tmp_path / "dataset.json").write_text(json.dumps({"base_height": 50}))
    with pytest.raises(common.DataError, match="dataset.json: base_height must be"):
        common.load_sizes(tmp_path)


def test_write_dataset_json_refuses_to_mix_datasets(tmp_path):
    common.write_dataset_json(tmp_path, common.Sizes(64), source="demo")
    common.write_dataset_json(tmp_path, common.Sizes(64), source="demo")  # same: fine
    with pytest.raises(common.DataError, match="base_height=64"):
        common.write_dataset_json(tmp_path, common.Sizes(32), source="demo")
    assert json.loads((tmp_path / "dataset.json").read_text())["base_height"] == 64


def test_list_image_ids_sorts_ids_and_reports_a_missing_folder(tmp_path):
    for name in ("00000010.png", "00000002.png", "notes.txt", "00100001.png"):
        (tmp_path / name).write_bytes(b"")
    assert common.list_image_ids(tmp_path) == [2, 10, 100001]
    with pytest.raises(common.DataError, match="missing: folder not found"):
        common.list_image_ids(tmp_path / "missing")


# --- .mat and image files -----------------------------------------------------------------------

def test_mat_round_trip_keeps_matlab_axis_order_and_dtypes(tmp_path):
    library_mask = np.zeros((8, 16, 3), np.uint8)
    library_mask[2:4, 3:9, 1] = 1
    library_img = np.random.default_rng(0).integers(0, 255, (8, 16, 3, 3), dtype=np.uint8)
    path = tmp_path / "CC" / "00000001.mat"
    common.save_mat(path, {"library_mask": library_mask, "library_img": library_img})
    loaded = common.load_mat(path, ["library_mask", "library_img"])
    assert loaded["library_mask"].dtype == np.uint8 and loaded["library_mask"].shape == (8, 16, 3)
    np.testing.assert_array_equal(loaded["library_img"], library_img)
    # The file is a plain MATLAB v5 file that scipy (like MATLAB/Octave) reads without our helper.
    assert scipy.io.loadmat(path)["library_mask"].shape == (8, 16, 3)
    assert [p.name for p in path.parent.iterdir()] == ["00000001.mat"]


def test_empty_slices_survive_a_round_trip(tmp_path):
    path = tmp_path / "empty.mat"
    common.save_mat(path, {"library_mask": np.zeros((8, 16, 0), np.uint8)})
    assert common.load_mat(path, ["library_mask"])["library_mask"].shape == (8, 16, 0)


def test_load_mat_names_the_file_and_the_missing_variable(tmp_path):
    path = tmp_path / "a.mat"
    common.save_mat(path, {"proposal": np.zeros(3)})
    with pytest.raises(common.DataError, match=r"a\.mat: variable proposal_iou not found"):
        common.load_mat(path, ["proposal", "proposal_iou"])
    with pytest.raises(common.DataError, match=r"b\.mat: file not found"):
        common.load_mat(tmp_path / "b.mat", ["proposal"])


def test_load_mat_reports_a_half_written_file(tmp_path):
    path = tmp_path / "whole.mat"
    common.save_mat(path, {"proposal": np.arange(5000.0)})
    broken = tmp_path / "broken.mat"
    broken.write_bytes(path.read_bytes()[:300])
    with pytest.raises(common.DataError, match=r"broken\.mat: cannot read"):
        common.load_mat(broken, ["proposal"])
    (tmp_path / "text.mat").write_text("not a mat file at all")
    with pytest.raises(common.DataError, match=r"text\.mat: cannot read"):
        common.load_mat(tmp_path / "text.mat", ["proposal"])


def test_a_failed_write_keeps_the_previous_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "out.mat"
    common.save_mat(path, {"x": np.ones(3)})
    before = path.read_bytes()
    with pytest.raises(Exception):
        common.save_mat(path, {"x": object()})  # cannot be written
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mat"]


def test_outputs_made_from_other_sources_are_removed_and_the_sources_recorded(tmp_path, caplog):
    outputs, previews = tmp_path / "out", tmp_path / "out_canvas"
    for folder, suffix in ((outputs, ".mat"), (previews, ".jpg")):
        folder.mkdir()
        (folder / f"a{suffix}").write_bytes(b"1")
    (outputs / "keep.txt").write_bytes(b"not an output")
    sources = {"checkpoint": "ckpt-3", "tricks": ("a", "b")}
    common.keep_outputs_made_from(sources, outputs, ".mat", also=[(previews, ".jpg")])  # no record yet
    assert sorted(p.name for p in outputs.iterdir()) == [common.MADE_FROM_RECORD, "keep.txt"]
    assert list(previews.iterdir()) == [] and "removing 2 outputs" in caplog.text
    (outputs / "a.mat").write_bytes(b"2")
    common.keep_outputs_made_from(dict(sources), outputs, ".mat")   # the same sources: kept
    assert (outputs / "a.mat").read_bytes() == b"2"
    common.keep_outputs_made_from({"checkpoint": "ckpt-4", "tricks": ("a", "b")}, outputs, ".mat")
    assert not (outputs / "a.mat").exists()
    assert common.made_from(outputs) == {"checkpoint": "ckpt-4", "tricks": ["a", "b"]}


def test_read_image_reports_corrupt_missing_and_wrong_size(tmp_path):
    image = np.zeros((8, 16, 3), np.uint8)
    good = tmp_path / "good.png"
    common.write_image(good, image)
    np.testing.assert_array_equal(common.read_image(good, shape=(8, 16)), image)
    with pytest.raises(common.DataError, match=r"good\.png: size is 8x16, expected 16x32"):
        common.read_image(good, shape=(16, 32))
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(good.read_bytes()[:40])
    with pytest.raises(common.DataError, match=r"corrupt\.png: cannot read image"):
        common.read_image(corrupt)
    with pytest.raises(common.DataError, match=r"nothing\.png: file not found"):
        common.read_image(tmp_path / "nothing.png")


def test_sixteen_bit_png_round_trip(tmp_path):
    disparity = np.array([[0, 1, 256 * 40 + 1], [65535, 300, 0]], np.uint16)
    common.write_image(tmp_path / "d.png", disparity)
    np.testing.assert_array_equal(common.read_png16(tmp_path / "d.png"), disparity)


def test_read_label_warns_about_colours_outside_the_palette(tmp_path, caplog):
    label = np.zeros((4, 4, 3), np.uint8)
    label[0, 0] = (1, 1, 1)
    common.write_image(tmp_path / "l.png", label)
    index = common.read_label(tmp_path / "l.png")
    assert (index == 255).all()
    assert "1 pixels have colours outside the palette" in caplog.text


# --- runner -----------------------------------------------------------------------------------

def test_shards_split_the_images_exactly_once():
    ids = list(range(1, 24)) + [100001, 100002]
    shards = [common.shard_ids(ids, (k, 4)) for k in range(1, 5)]
    assert sorted(sum(shards, [])) == sorted(ids)
    assert max(map(len, shards)) - min(map(len, shards)) <= 1


def test_positive_int_rejects_zero_negatives_and_text():
    import argparse
    assert common.positive_int("3") == 3
    for bad in ("0", "-2", "two", "1.5"):
        with pytest.raises(argparse.ArgumentTypeError):
            common.positive_int(bad)


def test_parse_shard_rejects_bad_values():
    import argparse
    assert common.parse_shard("2/5") == (2, 5)
    for bad in ("0/3", "4/3", "x", "1-3"):
        with pytest.raises(argparse.ArgumentTypeError):
            common.parse_shard(bad)


def _write_marker(image_id, folder, fail_on=None):
    if image_id == fail_on:
        raise common.DataError(f"image {image_id}: bad")
    common.write_bytes_atomic(folder / f"{image_id}.txt", str(image_id * image_id).encode())


@pytest.mark.parametrize("workers", [1, 2])
def test_runner_processes_skips_and_stops_on_the_first_error(tmp_path, workers):
    import functools
    ids = list(range(1, 9))
    outputs = lambda i: [tmp_path / f"{i}.txt"]  # noqa: E731
    (tmp_path / "3.txt").write_text("done before")
    done, skipped = common.run_per_image(functools.partial(_write_marker, folder=tmp_path), ids,
                                         outputs, workers=workers)
    assert (done, skipped) == (7, 1)
    assert (tmp_path / "3.txt").read_text() == "done before"
    assert (tmp_path / "8.txt").read_text() == "64"

    for path in tmp_path.iterdir():
        path.unlink()
    with pytest.raises(common.DataError, match="image 5: bad"):
        common.run_per_image(functools.partial(_write_marker, folder=tmp_path, fail_on=5), ids,
                             outputs, workers=workers)
    assert not (tmp_path / "5.txt").exists()
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]


def test_image_rng_depends_only_on_seed_and_image():
    first = common.image_rng(7, 12).random(4)
    np.testing.assert_array_equal(first, common.image_rng(7, 12).random(4))
    assert not np.array_equal(first, common.image_rng(7, 13).random(4))
    assert not np.array_equal(first, common.image_rng(8, 12).random(4))
