from sc_synth.pl._palette import set_colors


def test_real_black_baseline_grey_models_apart():
    colors = set_colors(["real", "real (reference)", "baseline (NB per label)", "vae", "wgan-gp"])
    assert colors["real"] == colors["real (reference)"] == "#000000"
    assert colors["baseline (NB per label)"] == "#8c8c8c"
    assert len(set(colors.values())) == 4


def test_a_name_keeps_its_colour_whatever_comes_with_it():
    first = set_colors(["my-model-a", "my-model-b"])
    again = set_colors(["my-model-b", "vae", "my-model-a"])
    assert again["my-model-a"] == first["my-model-a"]
    assert again["my-model-b"] == first["my-model-b"]
    assert first["my-model-a"] != first["my-model-b"]
    assert set(first.values()).isdisjoint(set_colors(["real", "vae", "wgan-gp"]).values())
