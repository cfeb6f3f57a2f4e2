""".mat and image files: round trips, one-line errors naming the file, atomic writes."""

import numpy as np
import pytest
import scipy.io

import errors
import file_io


def test_mat_round_trip_keeps_matlab_axis_order_and_dtypes(tmp_path):
    library_mask = np.zeros((8, 16, 3), np.uint8)
    library_mask[2:4, 3:9, 1] = 1
    library_img = np.random.default_rng(0).integers(0, 255, (8, 16, 3, 3), dtype=np.uint8)
    path = tmp_path / "CC" / "00000001.mat"
    file_io.save_mat(path, {"library_mask": library_mask, "library_img": library_img})
    loaded = file_io.load_mat(path, ["library_mask", "library_img"])
    assert loaded["library_mask"].dtype == np.uint8 and loaded["library_mask"].shape == (8, 16, 3)
    np.testing.assert_array_equal(loaded["library_img"], library_img)
    # The file is a plain MATLAB v5 file that scipy (like MATLAB/Octave) reads without our helper.
    assert scipy.io.loadmat(path)["library_mask"].shape == (8, 16, 3)
    assert [p.name for p in path.parent.iterdir()] == ["00000001.mat"]


def test_empty_slices_survive_a_round_trip(tmp_path):
    path = tmp_path / "empty.mat"
    file_io.save_mat(path, {"library_mask": np.zeros((8, 16, 0), np.uint8)})
    assert file_io.load_mat(path, ["library_mask"])["library_mask"].shape == (8, 16, 0)


def test_load_mat_names_the_file_and_the_missing_variable(tmp_path):
    path = tmp_path / "a.mat"
    file_io.save_mat(path, {"proposal": np.zeros(3)})
    with pytest.raises(errors.DataError, match=r"a\.mat: variable proposal_iou not found"):
        file_io.load_mat(path, ["proposal", "proposal_iou"])
    with pytest.raises(errors.DataError, match=r"b\.mat: file not found"):
        file_io.load_mat(tmp_path / "b.mat", ["proposal"])


def test_load_mat_reports_a_half_written_file(tmp_path):
    path = tmp_path / "whole.mat"
    file_io.save_mat(path, {"proposal": np.arange(5000.0)})
    broken = tmp_path / "broken.mat"
    broken.write_bytes(path.read_bytes()[:300])
    with pytest.raises(errors.DataError, match=r"broken\.mat: cannot read"):
        file_io.load_mat(broken, ["proposal"])
    (tmp_path / "text.mat").write_text("not a mat file at all")
    with pytest.raises(errors.DataError, match=r"text\.mat: cannot read"):
        file_io.load_mat(tmp_path / "text.mat", ["proposal"])


def test_a_failed_write_keeps_the_previous_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "out.mat"
    file_io.save_mat(path, {"x": np.ones(3)})
    before = path.read_bytes()
    with pytest.raises(Exception):
        file_io.save_mat(path, {"x": object()})  # cannot be written
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mat"]


def test_read_image_reports_corrupt_missing_and_wrong_size(tmp_path):
    image = np.zeros((8, 16, 3), np.uint8)
    good = tmp_path / "good.png"
    file_io.write_image(good, image)
    np.testing.assert_array_equal(file_io.read_image(good, shape=(8, 16)), image)
    with pytest.raises(errors.DataError, match=r"good\.png: size is 8x16, expected 16x32"):
        file_io.read_image(good, shape=(16, 32))
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(good.read_bytes()[:40])
    with pytest.raises(errors.DataError, match=r"corrupt\.png: cannot read image"):
        file_io.read_image(corrupt)
    with pytest.raises(errors.DataError, match=r"nothing\.png: file not found"):
        file_io.read_image(tmp_path / "nothing.png")


def test_sixteen_bit_png_round_trip(tmp_path):
    disparity = np.array([[0, 1, 256 * 40 + 1], [65535, 300, 0]], np.uint16)
    file_io.write_image(tmp_path / "d.png", disparity)
    np.testing.assert_array_equal(file_io.read_png16(tmp_path / "d.png"), disparity)


def test_pixels_are_truncated_as_the_originals_np_uint8_unless_rounded():
    values = np.array([-3.0, 0.4, 1.9, 254.5, 255.7, 300.0])
    np.testing.assert_array_equal(file_io.to_uint8(values), [0, 0, 1, 254, 255, 255])
    np.testing.assert_array_equal(file_io.to_uint8(values, round_values=True), [0, 0, 2, 254, 255, 255])
    inside = np.array([0.4, 1.9, 254.5])
    np.testing.assert_array_equal(file_io.to_uint8(inside), inside.astype(np.uint8))   # the original's np.uint8
