import numpy as np
import pytest
import scipy.io

import class_table
import data_root
import file_io
import labels
import segments
import test_connect_component_mask
import train_connect_component_mask

THIN = class_table.CITYSCAPES.ids("thin")   # pole, traffic light, traffic sign
from conftest import error_lines, run_script

ROAD, BUILDING, POLE, LIGHT, SIGN, SKY, CAR = 1, 3, 6, 7, 8, 11, 14


def _index(rows):
    """Index map from rows of 1-based class ids (0 = void)."""
    array = np.array(rows, np.int64)
    return np.where(array == 0, 255, array - 1).astype(np.uint8)


def test_a_building_cut_by_a_pole_stays_one_segment():
    index = _index([[3, 3, 6, 3, 3],
                    [3, 3, 6, 3, 3],
                    [1, 1, 6, 1, 1]])
    library_mask, library_mask_pole = segments.class_segments(index, BUILDING, THIN)
    assert library_mask.shape == (3, 5, 1)
    assert library_mask[:, :, 0].tolist() == [[1, 1, 0, 1, 1], [1, 1, 0, 1, 1], [0, 0, 0, 0, 0]]
    # The pole mask is the whole component inside the building's box: the thin pixels between.
    assert library_mask_pole[:, :, 0].tolist() == [[1, 1, 1, 1, 1], [1, 1, 1, 1, 1], [0, 0, 0, 0, 0]]


def test_without_the_thin_merge_a_pole_splits_a_building():
    index = _index([[3, 3, 6, 3, 3],
                    [3, 3, 6, 3, 3],
                    [1, 1, 6, 1, 1]])
    library_mask, library_mask_pole = segments.class_segments(index, BUILDING, THIN, thin_merge=False)
    assert library_mask.shape == (3, 5, 2)
    assert library_mask[:, :, 0].tolist() == [[1, 1, 0, 0, 0], [1, 1, 0, 0, 0], [0, 0, 0, 0, 0]]
    np.testing.assert_array_equal(library_mask_pole, library_mask)


def test_the_pole_mask_keeps_thin_pixels_inside_the_box_only():
    index = _index([[6, 3, 3, 3, 0],
                    [6, 3, 3, 3, 0],
                    [6, 3, 8, 3, 0],
                    [6, 0, 0, 0, 0]])
    library_mask, library_mask_pole = segments.class_segments(index, BUILDING, THIN)
    assert library_mask[:, :, 0].sum() == 8
    # The component reaches column 0 and row 3 through the pole, but the box of the building
    # pixels is rows 0-2, columns 1-3: only the sign pixel inside it joins the pole mask.
    assert library_mask_pole[:, :, 0].tolist() == [[0, 1, 1, 1, 0], [0, 1, 1, 1, 0], [0, 1, 1, 1, 0],
                                                   [0, 0, 0, 0, 0]]


def test_a_component_of_thin_pixels_alone_is_dropped_and_thin_majority_too():
    index = _index([[6, 0, 3, 0, 0],
                    [6, 0, 6, 6, 0],
                    [0, 0, 0, 0, 0]])
    library_mask, _ = segments.class_segments(index, BUILDING, THIN)
    assert library_mask.shape[2] == 0  # left: pole only; right: 1 building pixel, 2 pole pixels
    poles, _ = segments.class_segments(index, POLE, THIN)
    assert poles.shape[2] == 2  # thin classes keep every component of their own


def test_segments_follow_matlab_component_order():
    index = _index([[14, 0, 0, 14],
                    [0, 0, 0, 14],
                    [0, 14, 0, 0]])
    library_mask, _ = segments.class_segments(index, CAR, THIN)
    firsts = [np.argwhere(library_mask[:, :, k].T)[0][::-1].tolist() for k in range(3)]
    assert firsts == [[0, 0], [2, 1], [0, 3]]  # (row, col) of each segment, column-major order


def test_absent_class_gives_an_empty_stack_not_a_background_slice():
    index = _index([[1, 1], [1, 1]])
    for class_id in (POLE, LIGHT, SIGN, CAR):
        library_mask, library_mask_pole = segments.class_segments(index, class_id, THIN)
        assert library_mask.shape == library_mask_pole.shape == (2, 2, 0)


def test_segment_pixels_are_the_image_under_the_mask():
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3) + 1
    mask = np.zeros((2, 3, 2), np.uint8)
    mask[0, 0, 0] = mask[1, 2, 1] = 1
    pixels = segments.segment_pixels(rgb, mask)
    assert pixels.shape == (2, 3, 3, 2) and pixels.dtype == np.uint8
    assert pixels[0, 0, :, 0].tolist() == rgb[0, 0].tolist() and pixels[..., 0].sum() == rgb[0, 0].sum()
    assert pixels[1, 2, :, 1].tolist() == rgb[1, 2].tolist()


@pytest.fixture(scope="module")
def small_root(module_folder):
    import make_demo_dataset
    root = module_folder("segments")
    make_demo_dataset.main(["--root", str(root), "--train", "6", "--test", "3", "--base-height", "32"])
    return root


def test_memory_bank_files_hold_the_original_variables(small_root):
    train_connect_component_mask.main(["--root", str(small_root)])
    test_connect_component_mask.main(["--root", str(small_root)])
    label = labels.read_label(small_root / "traindata" / "label_refine" / "00000002.png", class_table.CITYSCAPES)
    rgb = file_io.read_image(small_root / "traindata" / "RGB256Full" / "00000002.png")
    for class_id in range(1, 20):
        path = small_root / "traindata" / "original_segment" / f"{class_id:02d}" / "00000002.mat"
        raw = scipy.io.loadmat(path)  # a plain MATLAB file
        assert {k for k in raw if not k.startswith("__")} == {"library_img", "library_mask", "library_mask_pole"}
        assert all(raw[k].dtype == np.uint8 for k in ("library_img", "library_mask", "library_mask_pole"))
        library_mask, library_mask_pole = segments.read_segment_masks(path, (32, 64))
        library_img = raw["library_img"].reshape(32, 64, 3, -1)
        expected_mask, expected_pole = segments.class_segments(label, class_id, THIN)
        np.testing.assert_array_equal(library_mask, expected_mask)
        np.testing.assert_array_equal(library_mask_pole, expected_pole)
        np.testing.assert_array_equal(library_img, segments.segment_pixels(rgb, expected_mask))
        # Every segment is non-empty and its pixels are of its class.
        assert (library_mask.sum(axis=(0, 1)) > 0).all()
        assert (label[library_mask.any(axis=2)] == class_id - 1).all()
    every_train = sorted(p.name for p in (small_root / "traindata" / "original_segment" / "14").iterdir())
    assert every_train == [f"{i:08d}.mat" for i in range(1, 7)]  # every image, not only the last
    query = scipy.io.loadmat(small_root / "testdata" / "original_mask" / "01" / "00100001.mat")
    assert set(k for k in query if not k.startswith("__")) == {"library_mask", "library_mask_pole"}


def test_a_corrupt_label_stops_the_step_with_one_line(small_root, tmp_path):
    import shutil
    root = tmp_path / "root"
    shutil.copytree(small_root / "traindata" / "label_refine", root / "traindata" / "label_refine")
    shutil.copytree(small_root / "traindata" / "RGB256Full", root / "traindata" / "RGB256Full")
    shutil.copy(small_root / "dataset.json", root / "dataset.json")
    broken = root / "traindata" / "label_refine" / "00000003.png"
    broken.write_bytes(broken.read_bytes()[:50])
    run = run_script("data_prep/train_connect_component_mask.py", "--root", root)
    assert run.returncode == 1
    lines = error_lines(run.stderr)
    assert len(lines) == 1 and str(broken) in lines[0]
    assert not list(root.rglob("*.tmp-*"))


def test_a_missing_root_is_one_line(tmp_path):
    run = run_script("data_prep/test_connect_component_mask.py", "--root", tmp_path / "absent")
    assert run.returncode == 1
    assert error_lines(run.stderr) == [f"ERROR {tmp_path / 'absent' / 'testdata' / 'label_refine'}: folder not found"]


def test_the_mask_scripts_take_no_thin_merge(small_root, tmp_path):
    import shutil
    root = tmp_path / "root"
    shutil.copytree(small_root / "testdata" / "label_refine", root / "testdata" / "label_refine")
    shutil.copy(small_root / "dataset.json", root / "dataset.json")
    test_connect_component_mask.main(["--root", str(root), "--no-thin-merge"])
    for image_id in data_root.list_image_ids(root / "testdata" / "label_refine"):
        label = labels.read_label(root / "testdata" / "label_refine" / f"{data_root.image_name(image_id)}.png", class_table.CITYSCAPES)
        for class_id in range(1, 20):
            path = segments.segment_file(root / "testdata" / "original_mask", class_id, image_id)
            library_mask, library_mask_pole = segments.read_segment_masks(path, (32, 64))
            np.testing.assert_array_equal(library_mask, segments.class_segments(label, class_id, THIN, thin_merge=False)[0])
            np.testing.assert_array_equal(library_mask_pole, library_mask)
