"""The agreement engine: sufficient statistics computed once, every coefficient derived from them.

See :mod:`aqt.agreement.stats` for the statistics, :mod:`aqt.agreement.coefficients` for the
formulas and references, :func:`agreement_report` for the report on an annotation table,
:func:`krippendorff_alpha` for a drop-in replacement of the ``krippendorff`` package, and
:class:`AgreementState` for incremental, mergeable statistics.
"""

from aqt.agreement.alpha import krippendorff_alpha
from aqt.agreement.coefficients import COEFFICIENTS
from aqt.agreement.report import AgreementReport, agreement_report
from aqt.agreement.state import AgreementState
from aqt.agreement.weights import LEVELS, WEIGHTS

__all__ = [
    "COEFFICIENTS",
    "LEVELS",
    "WEIGHTS",
    "AgreementReport",
    "AgreementState",
    "agreement_report",
    "krippendorff_alpha",
]
