import json

import numpy as np
import pytest
import scipy.ndimage

import make_demo_dataset as demo
import class_table
import data_root
import file_io
import folders
import labels
import per_image_runner
from conftest import error_lines, run_script


def _files(root):
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*.png"))}


def test_writes_the_whole_layout_at_every_level(tmp_path):
    demo.main(["--root", str(tmp_path), "--train", "3", "--test", "2", "--base-height", "32"])
    assert json.loads((tmp_path / "dataset.json").read_text())["base_height"] == 32
    expected = {**{("traindata", f): level for f, (level, _) in folders.TRAIN_IMAGE_FOLDERS.items()},
                **{("testdata", f): level for f, (level, _) in folders.TEST_IMAGE_FOLDERS.items()}}
    for (split, folder), level in expected.items():
        ids = [1, 2, 3] if split == "traindata" else [100001, 100002]
        assert data_root.list_image_ids(tmp_path / split / folder) == ids, folder
        first = tmp_path / split / folder / f"{ids[0]:08d}.png"
        if folder == "disparity":
            assert file_io.read_png16(first).shape == (32, 64)
        else:
            assert file_io.read_image(first).shape == (32 * level, 64 * level, 3), folder


def test_same_seed_gives_identical_files_and_another_seed_does_not(tmp_path):
    args = ["--train", "4", "--test", "1", "--base-height", "32"]
    demo.main(["--root", str(tmp_path / "a"), "--seed", "5", *args])
    demo.main(["--root", str(tmp_path / "b"), "--seed", "5", *args])
    demo.main(["--root", str(tmp_path / "c"), "--seed", "6", *args])
    first = _files(tmp_path / "a")
    assert first == _files(tmp_path / "b")
    other = _files(tmp_path / "c")
    assert first.keys() == other.keys()
    assert all(first[name] != other[name] for name in first)


def test_workers_and_shards_give_the_same_files_as_one_process(tmp_path):
    args = ["--train", "6", "--test", "2", "--base-height", "32"]
    demo.main(["--root", str(tmp_path / "serial"), *args])
    demo.main(["--root", str(tmp_path / "parallel"), "--workers", "2", *args])
    for shard in ("1/3", "2/3", "3/3"):
        demo.main(["--root", str(tmp_path / "sharded"), "--shard", shard, *args])
    serial = _files(tmp_path / "serial")
    assert serial == _files(tmp_path / "parallel") == _files(tmp_path / "sharded")


def test_a_rerun_skips_finished_images_and_refills_missing_ones(tmp_path):
    args = ["--root", str(tmp_path), "--train", "3", "--test", "1", "--base-height", "32"]
    demo.main(args)
    kept = tmp_path / "traindata" / "RGB256Full" / "00000001.png"
    removed = tmp_path / "traindata" / "label_refine" / "00000002.png"
    before = _files(tmp_path)
    mtime = kept.stat().st_mtime_ns
    removed.unlink()
    demo.main(args)
    assert kept.stat().st_mtime_ns == mtime
    assert _files(tmp_path) == before


def test_refuses_a_root_that_holds_another_scale(tmp_path):
    run = run_script("data_prep/make_demo_dataset.py", "--root", tmp_path, "--train", "1", "--test", "0",
                     "--base-height", "32")
    assert run.returncode == 0, run.stderr
    run = run_script("data_prep/make_demo_dataset.py", "--root", tmp_path, "--train", "1", "--test", "0",
                     "--base-height", "64")
    assert run.returncode == 1
    assert error_lines(run.stderr) == [f"ERROR {tmp_path / 'dataset.json'}: root already holds other data: "
                                       "base_height=32 (asked 64); use another --root "
                                       "(for run_demo.sh: SIMS_DEMO_ROOT=DIR)"]


@pytest.mark.parametrize("base_height", [32, 64, 96, 128, 160, 192, 224, 256])
def test_every_supported_base_height_renders(base_height):
    sizes = data_root.Sizes(base_height)
    scene = demo.render_scene(per_image_runner.image_rng(0, 1), *sizes.shape(4))
    assert scene.rgb.shape == sizes.shape(4) + (3,) and scene.rgb.dtype == np.uint8
    assert scene.index.shape == scene.disparity.shape == sizes.shape(4)
    assert set(np.unique(scene.index)) >= {0, 1, 2, 10}  # road, sidewalk, building, sky


def test_labels_use_only_palette_colours_and_every_class_appears(default_demo_root):
    seen = set()
    for split in ("traindata", "testdata"):
        for path in sorted((default_demo_root / split / "label_refine").glob("*.png")):
            index, unknown = labels.label_to_index(file_io.read_image(path), class_table.CITYSCAPES)
            assert unknown == 0, path
            seen.update(np.unique(index).tolist())
    assert seen - {255} == set(range(19))


def test_default_set_has_the_default_size(default_demo_root):
    assert len(data_root.list_image_ids(default_demo_root / "traindata" / "RGB256Full")) == 200
    assert data_root.list_image_ids(default_demo_root / "testdata" / "label_refine") == list(range(100001, 100021))
    assert file_io.read_image(default_demo_root / "traindata" / "RGB256Full" / "00000001.png").shape == (64, 128, 3)


def test_disparity_is_stored_as_cityscapes_with_sky_invalid(default_demo_root):
    for image_id in (1, 2, 3):
        name = f"{image_id:08d}.png"
        stored = file_io.read_png16(default_demo_root / "traindata" / "disparity" / name)
        index = labels.read_label(default_demo_root / "traindata" / "label_refine" / name, class_table.CITYSCAPES)
        assert (stored[index == class_table.CITYSCAPES.names.index("sky")] == 0).all()
        valid = stored[(index != 10) & (stored > 0)]
        assert valid.size > 0.9 * (index != 10).sum()
        # p = 256 d + 1 with d in pixels at 2048 wide: the near road reaches tens of pixels.
        assert 5 < (valid.max() - 1) / 256 < 255
    d = np.array([[0.0, 0.5, 31.25, 200.0]], np.float32)
    encoded = demo.encode_disparity(d)
    assert encoded.tolist() == [[0, 129, 8001, 51201]]
    np.testing.assert_allclose(demo.decode_disparity(encoded), d)


def test_the_ground_gets_nearer_towards_the_bottom(default_demo_root):
    stored = file_io.read_png16(default_demo_root / "traindata" / "disparity" / "00000004.png")
    index = labels.read_label(default_demo_root / "traindata" / "label_refine" / "00000004.png", class_table.CITYSCAPES)
    road_rows = [np.median(stored[row][(index[row] == 0) & (stored[row] > 0)])
                 for row in range(stored.shape[0]) if ((index[row] == 0) & (stored[row] > 0)).sum() > 3]
    assert len(road_rows) > 10
    assert np.all(np.diff(road_rows) >= 0)


def test_touching_segments_the_front_one_has_the_larger_disparity():
    """Where one segment was painted over another that it touches, the median stored disparity near
    their shared boundary is larger for the one in front (what the ordering step reads).

    Strict for every pair with an upright object (one depth: vehicles, people, poles, trees...).
    Two slanted planes (facades, walls, fences, hedges) can swap depth order along their length, as
    in real streets, so for those pairs most, not all, must agree. Ground pairs are left out: its
    disparity changes across the boundary, which is why the original decides them by a planar rule.
    """
    ground = {demo.CLASS_ID[name] for name in demo.GROUND_CLASSES}
    strict = planes = planes_agreeing = 0
    for image_id in range(1, 16):
        scene = demo.render_scene(per_image_runner.image_rng(0, image_id), 256, 512,
                                  guaranteed=demo.GUARANTEED_CLASSES[image_id % len(demo.GUARANTEED_CLASSES)])
        stored = demo.decode_disparity(demo.encode_disparity(scene.disparity))
        for front, back in scene.occlusions:
            if ground & {scene.instance_classes[front], scene.instance_classes[back]}:
                continue
            assert (back, front) not in scene.occlusions or not scene.instance_upright[front] \
                or not scene.instance_upright[back]
            front_mask, back_mask = scene.instance == front, scene.instance == back
            band = scipy.ndimage.binary_dilation(front_mask, iterations=3) & \
                scipy.ndimage.binary_dilation(back_mask, iterations=3)
            front_values = stored[band & front_mask & (stored > 0)]
            back_values = stored[band & back_mask & (stored > 0)]
            if front_values.size < 3 or back_values.size < 3:
                continue  # hidden entirely, or not touching
            agrees = np.median(front_values) > np.median(back_values)
            if scene.instance_upright[front] or scene.instance_upright[back]:
                assert agrees, (image_id, front, back)
                strict += 1
            else:
                planes += 1
                planes_agreeing += agrees
    assert strict > 50
    assert planes_agreeing >= 0.75 * planes


def test_texture_scale_strengthens_the_texture_and_keeps_the_scene(tmp_path):
    sizes = data_root.Sizes(32)
    plain, textured = (demo.render_scene(per_image_runner.image_rng(0, 1), *sizes.shape(4), texture_scale=scale)
                       for scale in (1.0, 3.0))
    assert np.array_equal(plain.index, textured.index) and np.array_equal(plain.disparity, textured.disparity)
    road = plain.index == demo.CLASS_ID["road"] - 1

    def detail(rgb):   # mean absolute difference from a 3x3 box blur, on the road
        image = rgb.astype(np.float32)
        return np.abs(image - scipy.ndimage.uniform_filter(image, size=(3, 3, 1)))[road].mean()
    assert 2.0 < detail(textured.rgb) / detail(plain.rgb) < 3.5
    demo.main(["--root", str(tmp_path), "--train", "1", "--test", "0", "--base-height", "32",
               "--texture-scale", "3"])
    assert json.loads((tmp_path / "dataset.json").read_text())["texture_scale"] == 3.0
    run = run_script("data_prep/make_demo_dataset.py", "--root", tmp_path, "--train", "1", "--test", "0",
                     "--base-height", "32")
    assert run.returncode == 1
    assert "texture_scale=3.0 (asked 1.0)" in run.stderr
    # a root described before the scale was recorded holds the default texture
    old_root = tmp_path / "old"
    demo.main(["--root", str(old_root), "--train", "1", "--test", "0", "--base-height", "32"])
    description = json.loads((old_root / "dataset.json").read_text())
    del description["texture_scale"]
    (old_root / "dataset.json").write_text(json.dumps(description))
    run = run_script("data_prep/make_demo_dataset.py", "--root", old_root, "--train", "1", "--test", "0",
                     "--base-height", "32", "--texture-scale", "3")
    assert run.returncode == 1 and "texture_scale=1.0 (asked 3.0)" in run.stderr
