"""aqt: the annotation quality toolkit (pure core).

The core never imports prodigy, label_studio_sdk or a web framework.
"""

from aqt.errors import AqtError
from aqt.records import Annotation, AnnotationTable, Span

__version__ = "0.1.0"
__all__ = ["Annotation", "AnnotationTable", "AqtError", "Span", "__version__"]
