"""The README's commands are the ones CI runs, and they install a CPU build of torch first."""

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def readme_block(name: str) -> list[str]:
    match = re.search(rf"<!-- ci:{name} -->\n```bash\n(.*?)```", README, flags=re.S)
    assert match, f"README.md has no bash block marked <!-- ci:{name} -->"
    return [line for line in match.group(1).splitlines() if line.strip()]


def test_setup_installs_the_cpu_torch_before_the_package():
    lines = readme_block("setup")
    torch_line = next(i for i, line in enumerate(lines) if "torch" in line)
    package_line = next(i for i, line in enumerate(lines) if re.search(r'install "?\.', line))
    assert torch_line < package_line
    assert "download.pytorch.org/whl/cpu" in lines[torch_line]
    assert "--extra-index-url" in lines[torch_line], "PyPI must stay reachable for torch's deps"
    assert "[test]" in lines[package_line]


def test_demo_and_test_blocks_are_single_commands():
    assert readme_block("demo") == ["sc-synth demo --out demo"]
    assert readme_block("test") == ["pytest"]


@pytest.mark.parametrize("name", ["setup", "demo", "test"])
def test_ci_runs_the_readme_blocks_verbatim(name):
    ci = ROOT / ".ci" / "run"
    script = ci.read_text()
    # The extraction function of .ci/run, run on its own against the README.
    function = script[script.index("readme_block() {") : script.index("\n}\n") + 3]
    out = subprocess.run(
        ["bash", "-c", f"{function}\nreadme_block {name}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.splitlines() == readme_block(name)
    assert f'"$(readme_block {name})"' in script
