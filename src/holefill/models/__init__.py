"""Learned models (inpainting, upscaling, generation): one module per paper, registered by name.

Importing this package imports every model module, which registers its variants.
"""

from holefill.models.base import InpaintModel, InpaintOutput
from holefill.models.registry import create_model, list_models, load_model, register_model

# Model modules, one per paper (importing one registers its variants).
from holefill.models import bct_blend  # noqa: E402,F401
from holefill.models import context_encoder  # noqa: E402,F401
from holefill.models import cto_gan  # noqa: E402,F401
from holefill.models import dcgan  # noqa: E402,F401
from holefill.models import deepfill_v1  # noqa: E402,F401
from holefill.models import deepfill_v2  # noqa: E402,F401
from holefill.models import edgeconnect  # noqa: E402,F401
from holefill.models import foreground_aware  # noqa: E402,F401
from holefill.models import giraffe  # noqa: E402,F401
from holefill.models import glcic  # noqa: E402,F401
from holefill.models import guided  # noqa: E402,F401
from holefill.models import meta_sr  # noqa: E402,F401
from holefill.models import pennet  # noqa: E402,F401
from holefill.models import pggan  # noqa: E402,F401
from holefill.models import vcnet  # noqa: E402,F401

__all__ = ["InpaintModel", "InpaintOutput", "create_model", "list_models", "load_model", "register_model"]
