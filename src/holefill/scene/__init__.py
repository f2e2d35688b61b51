"""Nearest-neighbour scene completion (Hays and Efros, SIGGRAPH 2007) from any folder of photos."""

from holefill.scene.completion import SceneCompletion
from holefill.scene.index import INDEX_NAME, SceneIndex, list_database, open_index

__all__ = ["INDEX_NAME", "SceneCompletion", "SceneIndex", "list_database", "open_index"]
