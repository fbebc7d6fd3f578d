import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "check_api", Path(__file__).parents[1] / "docs" / "check_api.py"
)
check_api = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_api)

RENDERED = """<html><head><script>var x = ".. autofunction:: not shown";</script></head><body>
<dl class="py function"><dt class="sig sig-object py" id="sc_synth.tl.train_vae">
<span class="sig-name descname">train_vae</span>(adata)</dt><dd>Train.</dd></dl></body></html>"""

# What a stub read as Markdown renders: the directives as a paragraph.
LITERAL = """<html><body><section><h1>sc_synth.tl.train_vae</h1>
<p>.. currentmodule:: sc_synth.tl</p><p>.. autofunction:: train_vae</p></section></body></html>"""


@pytest.fixture
def build(tmp_path):
    (tmp_path / "generated").mkdir()
    return tmp_path


def test_rendered_pages_pass(build):
    (build / "generated" / "sc_synth.tl.train_vae.html").write_text(RENDERED)
    assert check_api.problems(build) == []
    assert check_api.main([str(build)]) == 0


def test_literal_directives_fail(build, capsys):
    (build / "generated" / "sc_synth.tl.train_vae.html").write_text(LITERAL)
    assert check_api.problems(build) == [
        "sc_synth.tl.train_vae.html: no rendered signature (dt.sig-object.py)",
        "sc_synth.tl.train_vae.html: shows the directive '.. currentmodule::' as text",
    ]
    assert check_api.main([str(build)]) == 1
    assert "no rendered signature" in capsys.readouterr().err


def test_no_pages_fail(build):
    assert check_api.problems(build) == [f"no API pages in {build / 'generated'}"]
