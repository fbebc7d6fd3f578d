"""Numerics shared by the simulator, the generators and the evaluation: no AnnData, no torch.

:mod:`~sc_synth._core._negative_binomial` draws negative binomial counts into CSR buffers,
:mod:`~sc_synth._core._csr` assembles such rows into a matrix, and
:mod:`~sc_synth._core._manifold` states when a point lies in a k-NN ball, the rule of precision,
recall, density and coverage.
"""
