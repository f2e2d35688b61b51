"""Readers for the file formats the authors released their weights in, without their frameworks.

- :mod:`holefill.formats.tf_bundle`: TensorFlow 1 checkpoints (``.index`` + ``.data-*``).
- :mod:`holefill.formats.torch7`: Torch7 ``.t7`` files (``torch.save`` of Lua Torch).

Both read the bytes themselves (no TensorFlow, no Lua) and run no code from the file.
"""
