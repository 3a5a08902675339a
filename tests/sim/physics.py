"""The tests' own optics arithmetic (independent of edge.sim.optics): what a sensor pixel shows
of a Gaussian hot spot after a Gaussian PSF and integration over the pixel."""

from __future__ import annotations

import math

# Near each canthus the skin may be cooler than the labelled surrounding skin (`face_c`) by the
# eye (0.6 degC below it) and the rim falloff (< 0.1 degC there): the lower bound allows this.
NEAR_CANTHUS_MARGIN_C = 0.7


def phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def pixel_fraction(sigma_px: float, psf_px: float, dx: float, dy: float) -> float:
    """Pixel average of exp(-r^2 / 2 sigma^2) (peak 1) blurred by a unit-area Gaussian PSF,
    for a pixel whose centre is (dx, dy) from the spot: the convolution is
    (sigma^2 / s^2) exp(-r^2 / 2 s^2) with s^2 = sigma^2 + psf^2, and its pixel integral is
    2 pi sigma^2 times the two axes' normal-CDF differences."""
    s = math.hypot(sigma_px, psf_px)
    ax = phi((dx + 0.5) / s) - phi((dx - 0.5) / s)
    ay = phi((dy + 0.5) / s) - phi((dy - 0.5) / s)
    return 2.0 * math.pi * sigma_px**2 * ax * ay


def pixel_peak_bounds(skin_c: float, excess_c: float, sigma_px: float, psf_px: float
                      ) -> tuple[float, float]:
    """Range of the hottest sensor pixel over a canthus whose continuous peak is skin_c on skin
    excess_c cooler: at most the spot centred on a pixel with all surrounding skin at
    skin_c - excess_c; at least the spot on a pixel corner with skin NEAR_CANTHUS_MARGIN_C
    cooler still."""
    best = pixel_fraction(sigma_px, psf_px, 0.0, 0.0)
    worst = pixel_fraction(sigma_px, psf_px, 0.5, 0.5)
    return (skin_c - (excess_c + NEAR_CANTHUS_MARGIN_C) * (1.0 - worst),
            skin_c - excess_c * (1.0 - best))
