"""The per-image runner: shards, workers, resume, the first error, per-image seeds, and the record of
what a folder's outputs were made from."""

import numpy as np
import pytest

import errors
import file_io
import per_image_runner


def test_shards_split_the_images_exactly_once():
    ids = list(range(1, 24)) + [100001, 100002]
    shards = [per_image_runner.shard_ids(ids, (k, 4)) for k in range(1, 5)]
    assert sorted(sum(shards, [])) == sorted(ids)
    assert max(map(len, shards)) - min(map(len, shards)) <= 1


def _write_marker(image_id, folder, fail_on=None):
    if image_id == fail_on:
        raise errors.DataError(f"image {image_id}: bad")
    file_io.write_bytes_atomic(folder / f"{image_id}.txt", str(image_id * image_id).encode())


@pytest.mark.parametrize("workers", [1, 2])
def test_runner_processes_skips_and_stops_on_the_first_error(tmp_path, workers):
    import functools
    ids = list(range(1, 9))
    outputs = lambda i: [tmp_path / f"{i}.txt"]  # noqa: E731
    (tmp_path / "3.txt").write_text("done before")
    done, skipped = per_image_runner.run_per_image(functools.partial(_write_marker, folder=tmp_path), ids,
                                         outputs, workers=workers)
    assert (done, skipped) == (7, 1)
    assert (tmp_path / "3.txt").read_text() == "done before"
    assert (tmp_path / "8.txt").read_text() == "64"

    for path in tmp_path.iterdir():
        path.unlink()
    with pytest.raises(errors.DataError, match="image 5: bad"):
        per_image_runner.run_per_image(functools.partial(_write_marker, folder=tmp_path, fail_on=5), ids,
                             outputs, workers=workers)
    assert not (tmp_path / "5.txt").exists()
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]


def test_image_rng_depends_only_on_seed_and_image():
    first = per_image_runner.image_rng(7, 12).random(4)
    np.testing.assert_array_equal(first, per_image_runner.image_rng(7, 12).random(4))
    assert not np.array_equal(first, per_image_runner.image_rng(7, 13).random(4))
    assert not np.array_equal(first, per_image_runner.image_rng(8, 12).random(4))


def test_outputs_made_from_other_sources_are_removed_and_the_sources_recorded(tmp_path, caplog):
    outputs, previews = tmp_path / "out", tmp_path / "out_canvas"
    for folder, suffix in ((outputs, ".mat"), (previews, ".jpg")):
        folder.mkdir()
        (folder / f"a{suffix}").write_bytes(b"1")
    (outputs / "keep.txt").write_bytes(b"not an output")
    sources = {"checkpoint": "ckpt-3", "tricks": ("a", "b")}
    per_image_runner.keep_outputs_made_from(sources, outputs, ".mat", also=[(previews, ".jpg")])  # no record yet
    assert sorted(p.name for p in outputs.iterdir()) == [per_image_runner.MADE_FROM_RECORD, "keep.txt"]
    assert list(previews.iterdir()) == [] and "removing 2 outputs" in caplog.text
    (outputs / "a.mat").write_bytes(b"2")
    per_image_runner.keep_outputs_made_from(dict(sources), outputs, ".mat")   # the same sources: kept
    assert (outputs / "a.mat").read_bytes() == b"2"
    per_image_runner.keep_outputs_made_from({"checkpoint": "ckpt-4", "tricks": ("a", "b")}, outputs, ".mat")
    assert not (outputs / "a.mat").exists()
    assert per_image_runner.made_from(outputs) == {"checkpoint": "ckpt-4", "tricks": ["a", "b"]}
