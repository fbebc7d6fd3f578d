"""scvi-tools model classes behind :func:`sc_synth.tl.train_vae` and :func:`sc_synth.tl.train_gan`."""
