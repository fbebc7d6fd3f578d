"""The stored outputs of the tutorials read as a user's session would: no warnings, no paths."""

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "tutorials").glob("*.ipynb"))


def stderr_outputs(path: Path) -> list[str]:
    cells = json.loads(path.read_text())["cells"]
    return [
        "".join(output["text"])
        for cell in cells
        for output in cell.get("outputs", [])
        if output.get("output_type") == "stream" and output.get("name") == "stderr"
    ]


def test_there_are_tutorials():
    assert len(NOTEBOOKS) >= 3


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_tutorial_outputs_carry_no_warnings(path):
    noise = [text for text in stderr_outputs(path) if "Warning" in text or "site-packages" in text]
    assert noise == [], f"{path.name} stores warnings: {noise[:3]}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_tutorial_outputs_carry_no_training_chatter(path):
    chatter = ("Seed set to", "GPU available", "TPU available", "Tip:", "`Trainer.fit` stopped")
    noise = [text for text in stderr_outputs(path) if any(c in text for c in chatter)]
    assert noise == [], f"{path.name} stores Lightning's messages: {noise[:3]}"
