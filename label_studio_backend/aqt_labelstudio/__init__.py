"""aqt for Label Studio: the ``aqt ls`` commands, their client, and the aqt ML backend service.

Modules are imported on use (``aqt_labelstudio.client``, ``aqt_labelstudio.cli``,
``aqt_labelstudio.project_setup``, the backend's ``server``), so importing the package is cheap and
needs none of the ``labelstudio`` extra.
"""

__all__: list[str] = []
