"""aqt's Prodigy recipes: ``aqt.iaa`` and ``aqt.adjudicate``.

Prodigy finds them through the ``prodigy_recipes`` entry points (``prodigy aqt.iaa ...``), or load
one file with ``-F``: ``prodigy aqt.iaa DATASET -F recipes/aqt_prodigy/iaa.py``. Importing this
package does not import Prodigy; the recipe modules do, through :mod:`aqt_prodigy._compat`.
"""
