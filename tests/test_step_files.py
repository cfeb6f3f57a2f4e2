"""The .mat files of the data-preparation steps: written with mat_v5.py (column-major stacks,
chunked deflate, some in the background) they hold exactly what scipy.io.savemat wrote before,
and an interrupted write leaves no half-written file."""

import functools

import numpy as np
import pytest
import scipy.io

import file_io
import make_demo_dataset
import mat_v5
import per_image_runner
import search_segments
import test_connect_component_mask
import test_generate_canvas
import test_generate_order
import test_generate_transform
import train_connect_component_mask
import train_generate_order
import train_generate_synthesis
import train_generate_transform

STEPS = [(train_connect_component_mask, []), (test_connect_component_mask, []), (search_segments, []),
         (train_generate_order, []), (test_generate_transform, []), (train_generate_transform, []),
         (test_generate_order, []), (test_generate_transform, ["--level", "256"]),
         (train_generate_synthesis, ["--level", "256"]), (test_generate_canvas, ["--level", "256"])]


def scipy_save_mat(path, variables, background=False):
    """The writer the steps used before mat_v5.py, on C-ordered arrays as they built them then."""
    with file_io.atomic_path(path) as temporary, open(temporary, "wb") as handle:
        scipy.io.savemat(handle, {name: np.ascontiguousarray(value) for name, value in variables.items()},
                         do_compression=True, oned_as="column")


def _run_pipeline(root, workers):
    make_demo_dataset.main(["--root", str(root), "--train", "12", "--test", "3", "--base-height", "32",
                            "--seed", "11"])
    for step, arguments in STEPS:
        step.main(["--root", str(root), "--workers", str(workers)] + arguments)


def _variables(path):
    return {name: value for name, value in scipy.io.loadmat(path).items() if not name.startswith("__")}


def test_every_step_writes_what_scipy_savemat_wrote(tmp_path, monkeypatch):
    _run_pipeline(tmp_path / "mat_v5", workers=2)  # forked workers, background writes
    with monkeypatch.context() as patch:
        patch.setattr(file_io, "save_mat", scipy_save_mat)
        _run_pipeline(tmp_path / "savemat", workers=1)
    written = sorted(path.relative_to(tmp_path / "savemat") for path in (tmp_path / "savemat").rglob("*.mat"))
    assert written == sorted(path.relative_to(tmp_path / "mat_v5") for path in (tmp_path / "mat_v5").rglob("*.mat"))
    folders = {path.parts[0] + "/" + path.parts[1] for path in written}
    assert {"traindata/original_segment", "testdata/searched_top10_segments", "traindata/transform",
            "testdata/transform", "traindata/synthesis", "testdata/synthesis", "testdata/order"} <= folders
    for relative in written:
        expected, actual = _variables(tmp_path / "savemat" / relative), _variables(tmp_path / "mat_v5" / relative)
        assert sorted(actual) == sorted(expected), relative
        for name, value in expected.items():
            assert actual[name].dtype == value.dtype and actual[name].shape == value.shape, (relative, name)
            np.testing.assert_array_equal(actual[name], value, err_msg=f"{relative}: {name}")


def _interrupt_after(calls, monkeypatch):
    """Make mat_v5 raise KeyboardInterrupt in the middle of a file, after `calls` chunks."""
    deflate, count = mat_v5._deflate_chunk, [0]

    def interrupted(chunk, level):
        count[0] += 1
        if count[0] > calls:
            raise KeyboardInterrupt
        return deflate(chunk, level)

    monkeypatch.setattr(mat_v5, "_deflate_chunk", interrupted)


def _large_variables(value):
    return {"proposal": np.full((256, 512, 3, 2), value, np.uint8, order="F"), "proposal_iou": np.ones((2, 1))}


def test_an_interrupted_write_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "01" / "00000001.mat"
    file_io.save_mat(path, _large_variables(1))
    before = path.read_bytes()
    _interrupt_after(2, monkeypatch)  # stopped inside the first variable's values (3 chunks after its header)
    with pytest.raises(KeyboardInterrupt):
        file_io.save_mat(path, _large_variables(2))
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["00000001.mat"]
    np.testing.assert_array_equal(file_io.load_mat(path, ["proposal"])["proposal"], 1)


def _write_in_background(image_id, folder):
    for slot in range(3):
        file_io.save_mat(folder / f"{image_id}_{slot}.mat", _large_variables(image_id), background=True)


def test_an_interrupted_background_write_stops_the_step_and_leaves_whole_files(tmp_path, monkeypatch):
    _interrupt_after(14, monkeypatch)  # 6 chunks per file: the third file of the first image breaks
    process = functools.partial(_write_in_background, folder=tmp_path)
    with pytest.raises(KeyboardInterrupt):
        per_image_runner.run_per_image(process, [1, 2], lambda image_id: [tmp_path / f"{image_id}_2.mat"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1_0.mat", "1_1.mat"]
    for name in ("1_0.mat", "1_1.mat"):
        np.testing.assert_array_equal(file_io.load_mat(tmp_path / name, ["proposal"])["proposal"], 1)
    assert not file_io._background_writes


def test_a_background_write_outside_the_runner_is_written_at_once(tmp_path):
    path = tmp_path / "now.mat"
    file_io.save_mat(path, _large_variables(3), background=True)
    assert not file_io._background_writes
    np.testing.assert_array_equal(file_io.load_mat(path, ["proposal"])["proposal"], 3)
