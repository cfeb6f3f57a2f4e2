"""run_demo.sh --textured at tiny scale: the preset's own settings reach its steps (textured demo
data, training canvases without colour transfer, the synthesis rate lowered at 80 % and 92 % of
the steps), and the run ends with the evaluation table, as the quick preset's does."""

import json
import re

import folders
from conftest import TINY_DEMO_TEST, run_tiny_demo


def test_the_textured_preset_runs_with_its_own_settings(tmp_path):
    result = run_tiny_demo(tmp_path, "--textured", synthesis_steps=13)
    assert "preset textured" in result.stderr
    assert json.loads((tmp_path / "dataset.json").read_text())["texture_scale"] == 3.0
    assert "train_generate_synthesis.py --level 256 --colour-transfer-chance 0" in result.stderr
    # 13 synthesis steps (the test's setting): to step 10 at 3e-4, 11 at 1e-4, 13 at 3e-5, SIMS and baseline
    trainings = re.findall(r"synthesis_256_512\.py --max-steps (\d+) --learning-rate (\S+)( --parametric)? --train",
                           result.stderr)
    phases = [("10", "3e-4"), ("11", "1e-4"), ("13", "3e-5")]
    assert trainings == [phase + ("",) for phase in phases] + [phase + (" --parametric",) for phase in phases]
    # each phase continues from the one before: both networks resume at steps 10 and 11
    resumed = [len(re.findall(rf"resuming from \S+ckpt-{step} \(step {step}\)", result.stderr)) for step in (10, 11)]
    assert resumed == [2, 2]
    record = json.loads((tmp_path / folders.evaluation_record("256")).read_text())
    assert record["rows"]["SIMS (canvas + synthesis)"]["images"] == TINY_DEMO_TEST
