"""One colour per set name, shared by every figure, so that a colour means the same set everywhere."""

from __future__ import annotations

from collections.abc import Iterable

import matplotlib as mpl
from matplotlib.colors import to_hex

from .._names import BASELINE, REAL, REFERENCE

# Real cells are black wherever they appear (as a set of their own or as the reference) and the
# baseline grey, so the synthetic sets' colours leave both out.
_FIXED = {REAL: "#000000", REFERENCE: "#000000", BASELINE: "#8c8c8c"}
_TAB10, _TAB20 = mpl.colormaps["tab10"].colors, mpl.colormaps["tab20"].colors
# tab10 without its grey (7) and with its brown (5), too close to the real cells' black, last;
# then tab20's light shades (odd places) without their grey (15).
_CYCLE = [
    to_hex(c)
    for c in (*_TAB10[:5], _TAB10[6], *_TAB10[8:], _TAB10[5], *_TAB20[1:15:2], *_TAB20[17::2])
]
# The package's own set names (the training functions' default keys, the study's models, the name
# of a lone synthetic AnnData) hold their colours in every session and figure.
_assigned: dict[str, str] = {
    name: _CYCLE[i]
    for i, name in enumerate(("vae", "vanilla-gan", "wgan-gp", "gan", "flow", "synthetic"))
}


# Cell types and batches take tab20b's colours, which no set takes, so that beside an origin panel
# blue never means both a generator and a cell type: its five hues (gold, magenta, olive, navy, red,
# the ones least like the sets' first colours leading), then their other shades.
LABEL_COLORS = [
    to_hex(mpl.colormaps["tab20b"].colors[hue + shade])
    for shade in (1, 2, 0, 3)
    for hue in (8, 16, 4, 0, 12)
]


def set_colors(names: Iterable[str]) -> dict[str, str]:
    """Return a hex colour per set name.

    Other names take the next colour of the cycle the first time any figure draws them and keep
    it for the rest of the session.
    """
    colors = {}
    for name in names:
        if name not in _FIXED and name not in _assigned:
            _assigned[name] = _CYCLE[len(_assigned) % len(_CYCLE)]
        colors[name] = _FIXED.get(name) or _assigned[name]
    return colors
