"""Interpretation bands for agreement coefficients.

Krippendorff's alpha uses Krippendorff's own guidance (2004, p. 241; 2011): rely on data with
``alpha >= 0.800``, draw only tentative conclusions for ``0.667 <= alpha < 0.800``, and discard
data below ``0.667``. The kappa family (Cohen, Scott, Fleiss, Conger, Gwet's AC1/AC2,
Brennan-Prediger) uses the benchmark scale of Landis and Koch (1977): below 0 "poor",
0-0.20 "slight", 0.21-0.40 "fair", 0.41-0.60 "moderate", 0.61-0.80 "substantial",
0.81-1 "almost perfect". Percent agreement is not chance-corrected and gets no band.

References
----------
Krippendorff, K. (2004). *Content Analysis: An Introduction to Its Methodology* (2nd ed.), 241.
Landis, J. R., & Koch, G. G. (1977). The measurement of observer agreement for categorical data.
*Biometrics*, 33(1), 159-174.
"""

from __future__ import annotations

import math

__all__ = ["ALPHA_NAMES", "KAPPA_NAMES", "KRIPPENDORFF_BANDS", "LANDIS_KOCH_BANDS", "interpret"]

#: bands are decided on the value rounded to this many decimals, as the reports print it
DECIMALS = 3

#: (lower bound inclusive, band) from the top down; values below every bound get the last band
KRIPPENDORFF_BANDS: tuple[tuple[float, str], ...] = (
    (0.8, "reliable"),
    (0.667, "tentative"),
    (-math.inf, "discard"),
)

#: Landis & Koch (1977): (exclusive lower bound, band) from the top down; 0.20 is "slight", 0.2001 "fair";
#: 0 itself is "slight", anything below 0 "poor"
LANDIS_KOCH_BANDS: tuple[tuple[float, str], ...] = (
    (0.8, "almost perfect"),
    (0.6, "substantial"),
    (0.4, "moderate"),
    (0.2, "fair"),
    (0.0, "slight"),
)

ALPHA_NAMES = frozenset(
    {"krippendorff_alpha", "krippendorff_alpha_masi", "krippendorff_alpha_jaccard", "token_alpha"}
)
KAPPA_NAMES = frozenset(
    {
        "cohen_kappa",
        "scott_pi",
        "fleiss_kappa",
        "conger_kappa",
        "gwet_ac1",
        "gwet_ac2",
        "brennan_prediger",
    }
)


def interpret(name: str, value: float | None) -> str:
    """Name the interpretation band of one coefficient value.

    Parameters
    ----------
    name : str
        Coefficient name as in ``aqt.agreement.COEFFICIENTS`` (any name containing ``alpha`` uses
        Krippendorff's bands, any kappa-family name the Landis-Koch scale).
    value : float or None
        The coefficient; ``None`` or NaN gives ``""``. The band is decided on the value rounded
        to three decimals, as the reports print it (so 2/3 is "tentative").

    Returns
    -------
    str
        The band, or ``""`` when the value is missing or the coefficient has no band
        (percent agreement, F1 scores).

    Examples
    --------
    >>> interpret("krippendorff_alpha", 0.743)
    'tentative'
    >>> interpret("krippendorff_alpha", 0.8), interpret("krippendorff_alpha", 2 / 3)
    ('reliable', 'tentative')
    >>> interpret("cohen_kappa", 0.2), interpret("cohen_kappa", 0.21), interpret("fleiss_kappa", -0.1)
    ('slight', 'fair', 'poor')
    >>> interpret("percent_agreement", 0.9)
    ''
    """
    if value is None or not isinstance(value, (int, float)) or math.isnan(value):
        return ""
    # Decide on the value as the reports print it (three decimals): alpha = 2/3 prints as 0.667
    # and reads "tentative", never "0.667 discard"; -0.00001 prints as 0.000 and reads "slight".
    value = round(float(value), DECIMALS) + 0.0
    if name in ALPHA_NAMES or "alpha" in name:
        for lower, band in KRIPPENDORFF_BANDS:
            if value >= lower:
                return band
        return KRIPPENDORFF_BANDS[-1][1]
    if name in KAPPA_NAMES or "kappa" in name:
        v = value
        if v < 0:
            return "poor"
        for lower, band in LANDIS_KOCH_BANDS:
            if v > lower:
                return band
        return "slight"
    return ""
