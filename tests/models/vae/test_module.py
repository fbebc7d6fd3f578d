"""CountVAE: decoding latent codes of chosen labels, batches and libraries."""

import pytest
import torch

from sc_synth.models.vae._module import CountVAE


@pytest.mark.parametrize("n_cats_per_cov", [None, [3]])
def test_decoded_means_sum_to_the_library_and_follow_the_label(n_cats_per_cov):
    torch.manual_seed(0)
    module = CountVAE(
        12, n_batch=2, n_labels=3, n_cats_per_cov=n_cats_per_cov, n_latent=2, gene_likelihood="nb"
    )
    module.eval()
    z = torch.zeros(6, 2)
    label, batch = torch.tensor([0, 1, 2, 0, 1, 2]), torch.tensor([0, 0, 0, 1, 1, 1])
    library = torch.tensor([100.0, 200.0, 300.0, 400.0, 500.0, 600.0])
    px = module.decode(z, label, batch, torch.log(library))
    torch.testing.assert_close(px["mu"].sum(1), library)
    assert px["zi_logits"] is None
    # Only with the labels as a covariate does the decoder's output depend on them.
    same = torch.allclose(px["mu"][0] / 100, px["mu"][1] / 200)
    assert same == (n_cats_per_cov is None)
