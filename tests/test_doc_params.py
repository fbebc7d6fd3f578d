import pytest

from sc_synth._docs import doc_params


def test_fills_shared_texts_at_the_placeholders_indentation():
    def plot():
        """Draw.

        Parameters
        ----------
        {doc_show_save}
        """

    doc_params(plot)
    assert "        show\n            Show the figure;" in plot.__doc__
    assert "        save\n            Path to write the figure to;" in plot.__doc__
    assert "{doc_" not in plot.__doc__


def test_an_unknown_text_fails_at_decoration():
    def plot():
        """{doc_nothing}"""

    with pytest.raises(KeyError, match="doc_nothing"):
        doc_params(plot)
