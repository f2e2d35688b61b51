"""holefill: fill holes in images.

Inpainting (a mask says where), blind inpainting (the model finds the damage), outpainting
(past the borders) and wide-range blending (between two photos), with classical methods and
the GAN family, behind one filler protocol per task: ``fill(image, mask) -> image`` on HxWx3
uint8 RGB and HxW bool (True = hole), and ``fill_blind(image) -> (image, mask)``.
Beside them: enlarging by any factor (``upscale(image, scale)``, Meta-SR) and drawing new
images (``generate(method, n, seed=...)``, DCGAN and GIRAFFE).
"""

from holefill.api import blend, generate, inpaint, inpaint_blind, inpaint_samples, outpaint, upscale
from holefill.errors import HolefillError
from holefill.fillers import BlindFiller, Filler, GuidedFiller
from holefill.methods import (
    DEFAULT_BLIND_METHOD,
    DEFAULT_METHOD,
    DEFAULT_METHODS,
    default_method,
    get_blind_filler,
    get_filler,
    get_guided_filler,
    list_methods,
)

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_BLIND_METHOD",
    "DEFAULT_METHOD",
    "DEFAULT_METHODS",
    "BlindFiller",
    "Filler",
    "GuidedFiller",
    "HolefillError",
    "blend",
    "default_method",
    "generate",
    "get_blind_filler",
    "get_filler",
    "get_guided_filler",
    "inpaint",
    "inpaint_blind",
    "inpaint_samples",
    "list_methods",
    "outpaint",
    "upscale",
    "__version__",
]
