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


def test_no_public_docstring_keeps_a_placeholder():
    """A placeholder left in a docstring (no ``@doc_params``) renders as text in the docs."""
    import inspect

    import sc_synth as ss

    docs = {}
    for module in (ss.pp, ss.tl, ss.pl, ss.models):
        for name in dir(module):  # models loads its classes on first use
            obj = getattr(module, name)
            if name.startswith("_") or not callable(obj):
                continue
            docs[f"{module.__name__}.{name}"] = obj.__doc__
            for attr, member in inspect.getmembers(obj, callable) if inspect.isclass(obj) else ():
                docs[f"{module.__name__}.{name}.{attr}"] = member.__doc__
    assert "sc_synth.models.VAEGenerator.from_uns" in docs
    assert [name for name, doc in docs.items() if "{doc_" in (doc or "")] == []
