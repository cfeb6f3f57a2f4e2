"""run_demo.sh --textured at tiny scale: the preset's own settings reach its steps (textured demo
data, training canvases without colour transfer, the synthesis rate lowered for the last fifth of
the steps), and the run ends with the evaluation table, as the quick preset's does."""

import json
import re

import folders
from conftest import TINY_DEMO_TEST, run_tiny_demo


def test_the_textured_preset_runs_with_its_own_settings(tmp_path):
    result = run_tiny_demo(tmp_path, "--textured")
    assert "preset textured" in result.stderr
    assert json.loads((tmp_path / "dataset.json").read_text())["texture_scale"] == 3.0
    assert "train_generate_synthesis.py --level 256 --colour-transfer-chance 0" in result.stderr
    # two synthesis steps (the test's setting): step 1 at 3e-4, then step 2 at 1e-4, SIMS and baseline
    trainings = re.findall(r"synthesis_256_512\.py --max-steps (\d+) --learning-rate (\S+)( --parametric)? --train",
                           result.stderr)
    assert trainings == [("1", "3e-4", ""), ("2", "1e-4", ""), ("1", "3e-4", " --parametric"),
                         ("2", "1e-4", " --parametric")]
    record = json.loads((tmp_path / folders.evaluation_record("256")).read_text())
    assert record["rows"]["SIMS (canvas + synthesis)"]["images"] == TINY_DEMO_TEST
