"""The losses of the GAN inpainting recipes.

Each is an ``nn.Module`` that takes its weights as constructor arguments (never a global
config), returns a scalar already multiplied by them, and has a ``name`` for logging.
Images are NCHW in [-1, 1]; masks N1HW with 1 = hole.

Reconstruction (:mod:`.reconstruction`)
    :class:`MaskedL1`, :class:`MaskedMSE` (alias :data:`L2`): hole/known/border weights or a
    per-pixel map, with the averaging of LaMa, EdgeConnect or PEN-Net (``normalize``);
    Context Encoder's 10x overlap band (Pathak et al., CVPR 2016).
    :class:`SpatiallyDiscountedL1`: DeepFill v1 (Yu et al., CVPR 2018).
Adversarial (:mod:`.adversarial`), ``generator_loss``/``discriminator_loss`` objects
    :class:`MinimaxGAN` and :class:`NonSaturatingGAN` (Goodfellow et al. 2014),
    :class:`HingeGAN` (SN-PatchGAN, Yu et al., ICCV 2019), :class:`WGANGP` with the masked penalty of DeepFill v1
    (Gulrajani et al. 2017), :class:`LSGAN` (Mao et al. 2017), :class:`RelativisticAverageGAN`
    (Jolicoeur-Martineau 2019); :func:`make_adversarial` builds one by name.
Feature matching (:mod:`.feature_matching`)
    :class:`FeatureMatchingLoss`: EdgeConnect (Nazeri et al., 2019), pix2pixHD.
Total variation (:mod:`.tv`)
    :class:`TVLoss`, optionally on the hole neighbourhood (Partial Convolutions, Liu et al., 2018).
Masks (:mod:`.mask`)
    :class:`WeightedMaskBCE`: VCNet's class-balanced mask cross-entropy (Wang et al., ECCV 2020).
VGG-based, weights from a local file or inactive (:mod:`.perceptual`, :mod:`.id_mrf`)
    :class:`PerceptualLoss`, :class:`StyleLoss`: Johnson et al. 2016 / Gatys et al. 2016 with
    EdgeConnect's layers and Gram normalisation. :class:`IDMRFLoss`: GMCNN (Wang et al.,
    NeurIPS 2018).
"""

from holefill.losses.adversarial import (
    ADVERSARIAL_KINDS,
    LSGAN,
    WGANGP,
    AdversarialLoss,
    HingeGAN,
    MinimaxGAN,
    NonSaturatingGAN,
    RelativisticAverageGAN,
    make_adversarial,
)
from holefill.losses.feature_matching import FeatureMatchingLoss
from holefill.losses.id_mrf import IDMRFLoss, id_mrf_term
from holefill.losses.mask import WeightedMaskBCE, mask_bce
from holefill.losses.perceptual import PerceptualLoss, StyleLoss, gram_matrix
from holefill.losses.reconstruction import (
    L2,
    NORMALIZE_MODES,
    MaskedL1,
    MaskedMSE,
    SpatiallyDiscountedL1,
    box_discount_map,
    hole_border,
    spatial_discount_map,
)
from holefill.losses.tv import TVLoss
from holefill.losses._vgg_base import VGG_ENV_VARS, VGGLossBase

__all__ = [
    "ADVERSARIAL_KINDS",
    "AdversarialLoss",
    "FeatureMatchingLoss",
    "HingeGAN",
    "IDMRFLoss",
    "L2",
    "LSGAN",
    "MaskedL1",
    "MaskedMSE",
    "NORMALIZE_MODES",
    "MinimaxGAN",
    "NonSaturatingGAN",
    "PerceptualLoss",
    "RelativisticAverageGAN",
    "SpatiallyDiscountedL1",
    "StyleLoss",
    "TVLoss",
    "VGGLossBase",
    "VGG_ENV_VARS",
    "WGANGP",
    "WeightedMaskBCE",
    "box_discount_map",
    "gram_matrix",
    "hole_border",
    "id_mrf_term",
    "make_adversarial",
    "mask_bce",
    "spatial_discount_map",
]
