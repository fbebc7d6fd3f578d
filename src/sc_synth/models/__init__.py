"""Generators: the registry of kinds (``_registry``), the scvi-tools model classes behind
:func:`sc_synth.tl.train_vae` and :func:`sc_synth.tl.train_gan`, and their records."""
