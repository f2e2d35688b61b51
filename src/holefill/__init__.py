"""holefill: fill holes in images.

Inpainting (a mask says where), outpainting (past the borders) and wide-range blending
(between two photos), with classical methods and the GAN family, behind one filler
protocol: ``fill(image, mask) -> image`` on HxWx3 uint8 RGB and HxW bool (True = hole).
"""

from holefill.api import blend, inpaint, inpaint_samples, outpaint
from holefill.errors import HolefillError
from holefill.fillers import Filler, GuidedFiller
from holefill.methods import DEFAULT_METHOD, get_filler, get_guided_filler, list_methods

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_METHOD",
    "Filler",
    "GuidedFiller",
    "HolefillError",
    "blend",
    "get_filler",
    "get_guided_filler",
    "inpaint",
    "inpaint_samples",
    "list_methods",
    "outpaint",
    "__version__",
]
