"""Non-learned fillers and upscalers, thin wrappers over well-kept libraries where one exists."""

from holefill.classical.biharmonic import Biharmonic
from holefill.classical.criminisi import Criminisi
from holefill.classical.diffusion import NavierStokes, Telea
from holefill.classical.pypatchmatch import PatchMatch
from holefill.classical.resample import Bicubic, Lanczos
from holefill.classical.xphoto import FSR, ShiftMap

__all__ = ["FSR", "Bicubic", "Biharmonic", "Criminisi", "Lanczos", "NavierStokes", "PatchMatch", "ShiftMap", "Telea"]
