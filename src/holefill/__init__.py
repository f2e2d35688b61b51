"""holefill: fill holes in images.

Inpainting (a mask says where), blind inpainting (the model finds the damage), outpainting
(past the borders) and wide-range blending (between two photos), with classical methods and
the GAN family, behind one filler protocol per task: ``fill(image, mask) -> image`` on HxWx3
uint8 RGB and HxW bool (True = hole), and ``fill_blind(image) -> (image, mask)``.
"""

from holefill.api import blend, inpaint, inpaint_blind, inpaint_samples, outpaint
from holefill.errors import HolefillError
from holefill.fillers import BlindFiller, Filler
from holefill.methods import DEFAULT_BLIND_METHOD, DEFAULT_METHOD, get_blind_filler, get_filler, list_methods

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_BLIND_METHOD",
    "DEFAULT_METHOD",
    "BlindFiller",
    "Filler",
    "HolefillError",
    "blend",
    "get_blind_filler",
    "get_filler",
    "inpaint",
    "inpaint_blind",
    "inpaint_samples",
    "list_methods",
    "outpaint",
    "__version__",
]
