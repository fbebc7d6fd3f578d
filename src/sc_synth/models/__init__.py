"""Generators: the registry of kinds, the model classes behind them and their records.

``_registry`` lists every kind; ``_vae`` and ``_gan`` hold the scvi-tools classes behind
:func:`sc_synth.tl.train_vae` and :func:`sc_synth.tl.train_gan`; ``_record`` reads and writes
the records in ``adata.uns``.
"""
