"""cto_gan (Li et al., CVPR 2022): pinned parameter counts, the CMC and context-aware losses by
hand, the label-map data, and training, resuming and filling through the one Trainer."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

import holefill
from holefill import io
from holefill.cli import app
from holefill.data.layouts import LayoutDataset, central_components, cmc_objects, label_pairs, write_label_corpus
from holefill.errors import InputNotFoundError, InvalidArgumentError
from holefill.losses.contrastive import ContextAwareGAN, CrossModalContrastive
from holefill.models import create_model
from holefill.models.cto_gan import CMCEncoders, ContextDiscriminator
from holefill.train.config import config_from_dict
from holefill.train.trainer import Trainer

SMALL = {"classes": 5, "noise": 4, "reasoner_width": 4, "reasoner_blocks": 1, "generator_width": 4, "spade_hidden": 8}


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_parameter_counts_are_pinned() -> None:
    """Ours (no official code to count against): the COCO-Stuff config and the CPU one."""
    with torch.device("meta"):
        paper = create_model("cto_gan")
        cpu = create_model("cto_gan", classes=12, noise=8, reasoner_width=16, reasoner_blocks=2, generator_width=16,
                           spade_hidden=32)
        cmc = CMCEncoders(182, 64, 128)
    d = ContextDiscriminator(182, 64)  # (spectral norm's power iterations are slow on the meta device)
    assert (count(paper.reasoner), count(paper.generator), paper.num_parameters()) == (36_817_654, 19_869_827,
                                                                                       56_687_481)
    assert (count(d), count(cmc)) == (5_266_369, 1_615_552)
    assert cpu.num_parameters() == 2_275_295


def test_cmc_loss_by_hand() -> None:
    assert float(CrossModalContrastive(tau=0.5)(torch.eye(2), torch.eye(2))) == pytest.approx(math.log(1 + math.exp(-2)))
    u, v = torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([[0.6, 0.8], [0.0, 1.0]])
    # scores u v^T / tau (tau 1) = [[0.6, 0], [0.8, 1]]: rows (image -> layout) and columns (layout -> image)
    e = math.exp
    rows = -math.log(e(0.6) / (e(0.6) + e(0))) - math.log(e(1) / (e(0.8) + e(1)))
    cols = -math.log(e(0.6) / (e(0.6) + e(0.8))) - math.log(e(1) / (e(0) + e(1)))
    assert float(CrossModalContrastive(tau=1.0, weight=2.0)(u, v)) == pytest.approx(2.0 * 0.5 * (rows + cols) / 2)
    with pytest.raises(InvalidArgumentError):
        CrossModalContrastive(tau=0.0)


def test_context_aware_discriminator_loss_by_hand() -> None:
    loss = ContextAwareGAN(weight=3.0, d_weight=0.5)
    fake = torch.tensor([[[[0.0, 2.0]]]])
    generated = torch.tensor([[[[1.0, 0.0]]]])  # the first pixel was generated, the second given
    real = torch.zeros(1, 1, 1, 2)
    sp = lambda x: math.log1p(math.exp(x))  # noqa: E731  (softplus)
    # D: real pixels -> "real" (softplus(-0) each); fake: generated -> "fake" softplus(0), given -> "real" softplus(-2)
    expected_d = 0.5 * (sp(0) + (sp(0) + sp(-2)) / 2)
    assert float(loss.discriminator_loss(real, fake, generated)) == pytest.approx(expected_d)
    # G: only the generated pixel should score real: softplus(-0)
    assert float(loss.generator_loss(fake, generated)) == pytest.approx(3.0 * sp(0))


def test_noise_gives_different_layouts_only_when_drawn(photo: np.ndarray) -> None:
    from holefill.pipeline import ModelFiller

    torch.manual_seed(0)
    model = create_model("cto_gan", **SMALL)
    mask = np.ones(photo.shape[:2], bool)
    mask[24:72, 32:96] = False  # the foreground: the middle of the photo
    filler = ModelFiller(model, device="cpu")
    assert filler.stochastic
    one, two = filler.fill_samples(photo, mask, 2, seed=5)
    again = filler.fill_samples(photo, mask, 1, seed=5)[0]
    assert np.array_equal(one, again) and not np.array_equal(one, two)
    assert np.array_equal(filler.fill(photo, mask), filler.fill(photo, mask))  # z = 0 without a seed
    assert np.array_equal(one[~mask], photo[~mask])


# -- data ----------------------------------------------------------------------------------

@pytest.fixture
def pairs(tmp_path: Path) -> Path:
    """A COCO-Stuff-layout folder: two 48x64 photos, labels 0 (sky), 1 (ground), 3 (a thing)."""
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        (tmp_path / "images" / split).mkdir(parents=True)
        (tmp_path / "annotations" / split).mkdir(parents=True)
        for k in range(2):
            labels = np.zeros((48, 64), np.uint8)
            labels[24:] = 1
            labels[14 + k:34, 20:40] = 3
            image = np.stack([labels * 60 + 20] * 3, -1).astype(np.uint8) + rng.integers(0, 10, (48, 64, 3),
                                                                                        dtype=np.uint8)
            Image.fromarray(image).save(tmp_path / "images" / split / f"p{k}.png")
            cv2.imwrite(str(tmp_path / "annotations" / split / f"p{k}.png"), labels)
    return tmp_path


def test_layout_dataset_reads_pairs_and_takes_things_as_foreground(pairs: Path) -> None:
    found = label_pairs(pairs, "train")
    assert [p.name for p, _ in found] == ["p0.png", "p1.png"]
    ds = LayoutDataset(found, 32, things=[3], classes=5, random_crop=False)
    item = ds[(0, 0)]
    assert item["image"].shape == (3, 32, 32) and item["segmentation"].dtype == torch.int64
    fg = item["mask"][0] < 0.5
    assert torch.equal(fg, item["segmentation"][0] == 3)  # the thing is the foreground
    no_things = LayoutDataset(found, 32, things=[], classes=5, random_crop=False)[(0, 1)]
    assert 0 < float((no_things["mask"] < 0.5).float().mean()) <= 0.6  # central segments instead
    with pytest.raises(InvalidArgumentError, match="class id 3"):
        LayoutDataset(found, 32, classes=3)[(0, 0)]
    with pytest.raises(InputNotFoundError, match="annotations"):
        label_pairs(pairs / "images", "train")
    objects = cmc_objects(item["segmentation"][None], item["mask"][None])
    assert len(objects) == 1 and objects[0][0] == 0 and int(objects[0][1].sum()) == int(fg.sum())
    box = central_components(np.zeros((40, 40), np.uint8), np.random.default_rng(0))
    assert box.any() and not box.all()


def test_unsupervised_labels_for_a_photo_corpus(tmp_path: Path, photo: np.ndarray) -> None:
    corpus = tmp_path / "corpus"
    for split, img in (("train", photo), ("train", photo[:, ::-1]), ("val", photo[::-1])):
        (corpus / "photos" / split).mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.ascontiguousarray(img)).save(corpus / "photos" / split / f"{split}{len(list((corpus / 'photos' / split).iterdir()))}.png")
    counts = write_label_corpus(corpus, tmp_path / "out", classes=4, segments=40)
    assert counts == {"train": 2, "val": 1}
    labels = cv2.imread(str(tmp_path / "out" / "annotations" / "train" / "train0.png"), cv2.IMREAD_UNCHANGED)
    assert labels.shape == photo.shape[:2] and set(np.unique(labels)) <= {0, 1, 2, 3} and len(np.unique(labels)) > 1
    again = write_label_corpus(corpus, tmp_path / "again", classes=4, segments=40)
    assert again == counts and np.array_equal(
        labels, cv2.imread(str(tmp_path / "again" / "annotations" / "train" / "train0.png"), cv2.IMREAD_UNCHANGED))
    r = CliRunner().invoke(app, ["data", "labels", str(corpus), "-o", str(tmp_path / "out"), "--classes", "4"])
    assert r.exit_code == 2 and "--overwrite" in r.stderr


# -- training, resuming and filling through the one Trainer ---------------------------------

def config(root: Path, steps: int) -> object:  # noqa: ANN001
    return config_from_dict({
        "model": {"name": "cto_gan", "args": SMALL},
        "recipe": {"name": "cto_gan", "args": {"things": [3], "d_width": 4, "cmc_width": 4, "cmc_dim": 8}},
        "data": {"train": str(root), "crop": 32, "batch_size": 2, "workers": 0},
        "optim": {"lr_g": 1e-3, "lr_d": 1e-3},
        "train": {"steps": steps, "seed": 0, "log_every": 1, "sample_every": 0, "ckpt_every": 2, "eval_every": 0,
                  "eval_images": 2, "device": "cpu", "ema_decay": 0.9},
    }, source="cto-test.yaml")


def test_trains_resumes_and_fills(pairs: Path, tmp_path: Path, photo: np.ndarray) -> None:
    straight = Trainer(config(pairs, 3), tmp_path / "a", progress=False)
    assert straight.val_dataset is not None and set(straight.recipe.networks()) == {"generator", "discriminator", "cmc"}
    final = straight.fit()
    log = (tmp_path / "a" / "log.jsonl").read_text()
    assert all(key in log for key in ('"g/layout_ce"', '"g/l1_background"', '"g/adv"', '"d/loss"', '"g/mode_seeking"'))
    Trainer(config(pairs, 2), tmp_path / "b", progress=False).fit()
    resumed = Trainer(config(pairs, 3), tmp_path / "b", resume=True, progress=False)
    resumed.fit()
    for key, value in straight.recipe.state_dict().items():
        assert torch.equal(value, resumed.recipe.state_dict()[key]), key

    out = holefill.outpaint(photo, left=16, top=8, method="cto_gan", weights=final)
    assert out.shape == (96 + 8, 128 + 16, 3) and np.array_equal(out[8:, 16:], photo)
    src = tmp_path / "photo.png"
    Image.fromarray(photo).save(src)
    r = CliRunner().invoke(app, ["outpaint", str(src), "--right", "24", "-o", str(tmp_path / "wide.png"),
                                 "-m", "cto_gan", "--weights", str(final), "--samples", "2", "--seed", "3"])
    assert r.exit_code == 0, r.output
    a, b = io.read_image(tmp_path / "wide-1.png"), io.read_image(tmp_path / "wide-2.png")
    assert a.shape == (96, 152, 3) and np.array_equal(a[:, :128], photo) and not np.array_equal(a, b)
