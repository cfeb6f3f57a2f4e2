import json

import numpy as np
import pytest
import scipy.io

import data_root
import file_io
import make_demo_dataset
import search_segments
import segment_index
import segments
import test_connect_component_mask
import train_connect_component_mask
from conftest import error_lines, run_script

SHAPE = (32, 64)


def _demo_root(path, seed, train=30, test=4):
    make_demo_dataset.main(["--root", str(path), "--train", str(train), "--test", str(test),
                            "--base-height", "32", "--seed", str(seed)])
    train_connect_component_mask.main(["--root", str(path)])
    test_connect_component_mask.main(["--root", str(path)])
    return path


def _exhaustive_top_k(root, class_id, query, k):
    """Every training segment of the class, IoU with plain boolean arrays, sorted as specified."""
    found = []
    train_ids = data_root.list_image_ids(root / "traindata" / "RGB256Full")
    for position, train_id in enumerate(train_ids, start=1):
        path = segments.segment_file(root / "traindata" / "original_segment", class_id, train_id)
        (masks,) = segments.read_segment_masks(path, SHAPE, names=("library_mask",))
        for slot in range(masks.shape[2]):
            mask = masks[:, :, slot] > 0
            iou = (mask & query).sum() / (mask | query).sum()
            if iou > 0:
                found.append((-iou, position, slot + 1))
    return [(-negative, image, segment) for negative, image, segment in sorted(found)[:k]]


# --- IoU on hand-made masks -----------------------------------------------------------------

@pytest.fixture
def hand_made_root(tmp_path):
    """Three training images whose car segments are squares placed by hand."""
    (tmp_path / "dataset.json").write_text(json.dumps({"base_height": 32}))
    squares = {1: [(4, 4, 4)], 2: [(4, 6, 4), (20, 40, 4)], 3: [(2, 2, 8)]}  # (row, col, side)
    for train_id, placed in squares.items():
        file_io.write_image(tmp_path / "traindata" / "RGB256Full" / f"{train_id:08d}.png",
                           np.full(SHAPE + (3,), 10 * train_id, np.uint8))
        for class_id in range(1, 20):
            stack = np.zeros(SHAPE + (len(placed) if class_id == 14 else 0,), np.uint8)
            for slot, (row, col, side) in enumerate(placed if class_id == 14 else []):
                stack[row:row + side, col:col + side, slot] = 1
            file_io.save_mat(segments.segment_file(tmp_path / "traindata" / "original_segment", class_id, train_id),
                            {"library_mask": stack, "library_mask_pole": stack})
    return tmp_path


def test_iou_on_hand_made_masks(hand_made_root):
    sizes = data_root.load_sizes(hand_made_root)
    folder = segment_index.prepare_index(hand_made_root, sizes)
    cars = segment_index.SegmentIndex(folder, sizes).of_class(14)
    query = np.zeros(SHAPE, bool)
    query[4:8, 4:8] = True
    matches = cars.top_k(query, 10)
    # identical square: 1; the 8x8 square holding it: 16/64; shifted by 2 columns: 8/24.
    # The far square of image 2 shares no pixel and is not returned.
    assert [(m.iou, m.image, m.segment) for m in matches] == [(1.0, 1, 1), (8 / 24, 2, 1), (16 / 64, 3, 1)]
    assert [m.iou for m in cars.top_k(query, 2)] == [1.0, 8 / 24]
    assert cars.top_k(np.zeros(SHAPE, bool), 10) == []
    np.testing.assert_array_equal(cars.mask(matches[0].row), query)


def test_ties_go_to_the_lower_image_then_segment(hand_made_root):
    sizes = data_root.load_sizes(hand_made_root)
    cars = segment_index.SegmentIndex(segment_index.prepare_index(hand_made_root, sizes), sizes).of_class(14)
    query = np.zeros(SHAPE, bool)
    query[4:8, 6:8] = True  # 8 px inside both image 1's square and image 2's first square: 8/16 each
    matches = cars.top_k(query, 3)
    assert [(m.iou, m.image) for m in matches[:2]] == [(0.5, 1), (0.5, 2)]


# --- exactness against exhaustive search --------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_top_k_equals_exhaustive_search_on_demo_data(tmp_path, monkeypatch, seed):
    root = _demo_root(tmp_path, seed)
    monkeypatch.setattr(segment_index, "CHUNK", 3)  # small steps, so pruning stops early often
    sizes = data_root.load_sizes(root)
    index = segment_index.SegmentIndex(segment_index.prepare_index(root, sizes), sizes)
    rng = np.random.default_rng(seed)
    compared = 0
    for test_id in data_root.list_image_ids(root / "testdata" / "label_refine"):
        for class_id in rng.choice(np.arange(1, 20), 8, replace=False):
            path = segments.segment_file(root / "testdata" / "original_mask", class_id, test_id)
            (queries,) = segments.read_segment_masks(path, SHAPE, names=("library_mask",))
            for j in range(queries.shape[2]):
                query = queries[:, :, j] > 0
                k = int(rng.integers(1, 12))
                got = [(m.iou, m.image, m.segment) for m in index.of_class(class_id).top_k(query, k)]
                assert got == _exhaustive_top_k(root, class_id, query, k)
                compared += 1
    assert compared > 20


# --- the step's files ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def searched_root(module_folder):
    root = _demo_root(module_folder("search"), seed=3, train=20, test=3)
    search_segments.main(["--root", str(root)])
    return root


def test_search_files_hold_the_original_variables_sorted_best_first(searched_root):
    sizes = data_root.load_sizes(searched_root)
    filled = 0
    for class_id in range(1, 20):
        path = segments.segment_file(searched_root / "testdata" / "searched_top10_segments", class_id, 100001)
        content = scipy.io.loadmat(path)
        (queries,) = segments.read_segment_masks(
            segments.segment_file(searched_root / "testdata" / "original_mask", class_id, 100001), SHAPE,
            names=("library_mask",))
        n = queries.shape[2]
        proposal = content["proposal"].reshape(SHAPE + (3, 10, n))
        pole = content["proposal_pole_mask"].reshape(SHAPE + (10, n))
        iou = content["proposal_iou"].reshape(10, n)
        response_index = content["response_index"].reshape(10, n)
        response_segment = content["response_segment"].reshape(10, n)
        assert content["proposal"].dtype == np.uint8 and content["proposal_pole_mask"].dtype == np.uint8
        assert iou.dtype == np.float32 and response_index.dtype == np.float32
        assert (np.diff(iou, axis=0) <= 0).all()
        for j in range(n):
            small = queries[:, :, j].sum() <= sizes.area_threshold
            assert not small or (iou[:, j] == 0).all()
            for slot in np.flatnonzero(iou[:, j] > 0):
                filled += 1
                train_id = int(response_index[slot, j])  # demo training ids are their positions
                train_file = segments.segment_file(searched_root / "traindata" / "original_segment",
                                                   class_id, train_id)
                bank = scipy.io.loadmat(train_file)
                segment = int(response_segment[slot, j]) - 1
                np.testing.assert_array_equal(proposal[:, :, :, slot, j],
                                              bank["library_img"].reshape(SHAPE + (3, -1))[:, :, :, segment])
                np.testing.assert_array_equal(pole[:, :, slot, j],
                                              bank["library_mask_pole"].reshape(SHAPE + (-1,))[:, :, segment])
                mask = bank["library_mask"].reshape(SHAPE + (-1,))[:, :, segment] > 0
                query = queries[:, :, j] > 0
                assert iou[slot, j] == np.float32((mask & query).sum() / (mask | query).sum())
            unfilled = iou[:, j] == 0
            assert (response_index[unfilled, j] == 0).all() and not proposal[..., unfilled, j].any()
    assert filled > 20


def test_no_query_and_no_training_segment_give_empty_valid_files(tmp_path):
    root = _demo_root(tmp_path, seed=4, train=6, test=1)
    # Remove every train (class 17) from the training side, and every car from the test layout.
    for path in (root / "traindata" / "original_segment" / "17").iterdir():
        file_io.save_mat(path, {name: np.zeros(SHAPE + (0,) if name != "library_img" else SHAPE + (3, 0), np.uint8)
                               for name in ("library_img", "library_mask", "library_mask_pole")})
    test_file = segments.segment_file(root / "testdata" / "original_mask", 14, 100001)
    file_io.save_mat(test_file, {"library_mask": np.zeros(SHAPE + (0,), np.uint8),
                                "library_mask_pole": np.zeros(SHAPE + (0,), np.uint8)})
    train_query = np.zeros(SHAPE + (1,), np.uint8)
    train_query[10:30, 5:40] = 1
    file_io.save_mat(segments.segment_file(root / "testdata" / "original_mask", 17, 100001),
                    {"library_mask": train_query, "library_mask_pole": train_query})
    search_segments.main(["--root", str(root)])

    no_query = scipy.io.loadmat(segments.segment_file(root / "testdata" / "searched_top10_segments", 14, 100001))
    assert no_query["proposal"].shape == SHAPE + (3, 10, 0) and no_query["proposal_iou"].shape == (10, 0)
    no_training = scipy.io.loadmat(segments.segment_file(root / "testdata" / "searched_top10_segments", 17, 100001))
    assert no_training["proposal_iou"].shape == (10, 1) and not no_training["proposal_iou"].any()
    assert not no_training["response_index"].any()


def test_the_index_is_rebuilt_when_the_memory_bank_changes(searched_root, caplog):
    sizes = data_root.load_sizes(searched_root)
    with caplog.at_level("INFO"):
        segment_index.prepare_index(searched_root, sizes)
    assert "up to date" in caplog.text
    caplog.clear()
    path = segments.segment_file(searched_root / "traindata" / "original_segment", 14, 1)
    content = scipy.io.loadmat(path)
    file_io.save_mat(path, {k: content[k][..., :0] for k in ("library_img", "library_mask", "library_mask_pole")})
    with caplog.at_level("INFO"):
        folder = segment_index.prepare_index(searched_root, sizes)
    assert "building the segment index" in caplog.text
    cars = segment_index.SegmentIndex(folder, sizes).of_class(14)
    assert 1 not in cars.image_id.tolist()


def test_a_half_written_segment_file_is_reported_by_name(tmp_path):
    root = _demo_root(tmp_path, seed=5, train=5, test=1)
    broken = segments.segment_file(root / "traindata" / "original_segment", 3, 4)
    broken.write_bytes(broken.read_bytes()[:120])
    run = run_script("data_prep/search_segments.py", "--root", root)
    assert run.returncode == 1
    lines = error_lines(run.stderr)
    assert len(lines) == 1 and lines[0].startswith(f"ERROR {broken}:")
    assert not (root / "testdata" / "searched_top10_segments").exists()
    assert not list((root / "traindata").glob(".segment_index.tmp-*"))


def test_a_corrupt_query_file_is_reported_by_name(tmp_path):
    root = _demo_root(tmp_path, seed=6, train=5, test=2)
    broken = segments.segment_file(root / "testdata" / "original_mask", 9, 100002)
    broken.write_text("garbage")
    run = run_script("data_prep/search_segments.py", "--root", root)
    assert run.returncode == 1
    lines = error_lines(run.stderr)
    assert len(lines) == 1 and lines[0].startswith(f"ERROR {broken}: cannot read .mat file")
