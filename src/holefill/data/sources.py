"""Where the photo corpus comes from: one row per photo, with its credit and licence.

Three Debian packages ship free photos under ``/usr/share/backgrounds`` and scikit-image
bundles a few more in its wheel. Nothing is downloaded. Every author, year and licence
below is taken from the packages' ``/usr/share/doc/<package>/copyright`` files (Debian's
machine-readable format) and from the docstrings of ``skimage.data``; licences are SPDX
ids, except "public domain", which has none.

Files of these packages that are artwork rather than photographs stay in the table,
marked excluded with the reason, so that the table covers every JPEG the packages hold.
``ukui-wallpapers`` (CC-BY-SA-3.0), also allowed, is no source: its 12 images (version
20.04.3) are all digital artwork (3D ribbons, flat shapes, illustrated animals).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from holefill.errors import HolefillError, InvalidArgumentError

#: The pseudo-package of photos bundled with scikit-image.
SKIMAGE = "scikit-image"

#: Source id (what ``--sources`` takes) -> package that provides its photos.
SOURCE_PACKAGES: dict[str, str] = {
    "lomiri-16.04": "lomiri-wallpapers-16.04",
    "lomiri-20.04": "lomiri-wallpapers-20.04",
    "mate": "mate-backgrounds",
    "skimage": SKIMAGE,
}
#: Every source id, in the order the corpus builder reads them.
SOURCE_IDS: tuple[str, ...] = tuple(SOURCE_PACKAGES)

#: Where each Debian package's upstream project lives, for the licence notes.
PACKAGE_HOMEPAGES: dict[str, str] = {
    "lomiri-wallpapers-16.04": "https://gitlab.com/ubports/development/core/lomiri-wallpapers",
    "lomiri-wallpapers-20.04": "https://gitlab.com/ubports/development/core/lomiri-wallpapers",
    "mate-backgrounds": "https://git.mate-desktop.org/mate-backgrounds/",
    SKIMAGE: "https://scikit-image.org",
}

PUBLIC_DOMAIN = "public domain"


@dataclass(frozen=True)
class Licence:
    """A licence's full name and the address of its text."""

    name: str
    url: str | None


#: Licence id -> name and text address, for every licence that appears in the table.
LICENCES: dict[str, Licence] = {
    "CC-BY-4.0": Licence("Creative Commons Attribution 4.0 International",
                         "https://creativecommons.org/licenses/by/4.0/"),
    "CC-BY-SA-3.0": Licence("Creative Commons Attribution-ShareAlike 3.0 Unported",
                            "https://creativecommons.org/licenses/by-sa/3.0/"),
    "CC-BY-SA-4.0": Licence("Creative Commons Attribution-ShareAlike 4.0 International",
                            "https://creativecommons.org/licenses/by-sa/4.0/"),
    "CC0-1.0": Licence("Creative Commons Zero v1.0 Universal (public domain dedication)",
                       "https://creativecommons.org/publicdomain/zero/1.0/"),
    "GPL-2.0-or-later": Licence("GNU General Public License v2.0 or later",
                                "https://www.gnu.org/licenses/old-licenses/gpl-2.0.html"),
    PUBLIC_DOMAIN: Licence("Public domain (no known copyright restrictions)", None),
}


@dataclass(frozen=True)
class PhotoSource:
    """One photo: where it is, who made it, under which licence, and whether the corpus uses it.

    ``path`` is relative to the backgrounds root (``/usr/share/backgrounds``) for a Debian
    package, or the name of the ``skimage.data`` function for scikit-image.
    ``excluded`` is None for a photo the corpus uses, else the reason it does not.
    """

    photo_id: str
    source: str
    path: str
    author: str
    year: str | None
    licence: str
    excluded: str | None = None
    url: str | None = None

    @property
    def package(self) -> str:
        return SOURCE_PACKAGES[self.source]

    @property
    def included(self) -> bool:
        return self.excluded is None

    @property
    def is_debian(self) -> bool:
        return self.package != SKIMAGE

    @property
    def original(self) -> str:
        """The original as a user would find it: a path under the root, or a function call."""
        return f"skimage.data.{self.path}()" if not self.is_debian else self.path

    @property
    def credit(self) -> str:
        """A one-line credit: "© 2018 Jane Doe", or "Jane Doe (2015)" for unrestricted works."""
        if self.licence in (PUBLIC_DOMAIN, "CC0-1.0"):
            return f"{self.author} ({self.year})" if self.year else self.author
        return f"© {self.year} {self.author}" if self.year else f"© {self.author}"


def _lomiri16(photo_id: str, filename: str, author: str, licence: str, excluded: str | None = None) -> PhotoSource:
    return PhotoSource(photo_id, "lomiri-16.04", filename, author, "2018", licence, excluded)


def _mate(photo_id: str, name: str, author: str, year: str, excluded: str | None = None,
          folder: str = "nature") -> PhotoSource:
    return PhotoSource(photo_id, "mate", f"mate/{folder}/{name}", author, year, "GPL-2.0-or-later", excluded)


_ARTWORK = "artwork, not a photograph"

#: Every photo of the three Debian packages (their JPEGs) and the scikit-image photos used.
PHOTOS: tuple[PhotoSource, ...] = (
    # lomiri-wallpapers-16.04: upstream folder 16.04/, all "(c) <author>, 2018".
    _lomiri16("lomiri-aitzgorri", "aitzgorri_by_Aitzol_Berasategi.jpg", "Aitzol Berasategi", "CC-BY-4.0"),
    _lomiri16("lomiri-analogpattern", "analogpattern_by_Peter_Nerlich.jpg", "Peter Nerlich", "CC-BY-SA-4.0"),
    _lomiri16("lomiri-bridge", "Bridge_by_Sander_Klootwijk.jpg", "Sander Klootwijk", "CC-BY-SA-4.0"),
    _lomiri16("lomiri-dragonfly", "Dragonfly_by_Bolly.jpg", "Bolly", "CC-BY-SA-4.0"),
    _lomiri16("lomiri-free", "free_by_Peter_Nerlich.jpg", "Peter Nerlich", "CC-BY-SA-4.0"),
    _lomiri16("lomiri-friends", "friends_by_Aitzol_Berasategi.jpg", "Aitzol Berasategi", "CC-BY-4.0"),
    _lomiri16("lomiri-greentock", "greentock_by_Peter_Nerlich.jpg", "Peter Nerlich", "CC-BY-SA-4.0"),
    _lomiri16("lomiri-life", "life_by_Aitzol_Berasategi.jpg", "Aitzol Berasategi", "CC-BY-4.0"),
    _lomiri16("lomiri-picosdeeuropa", "picosdeeuropa_by_Aitzol_Berasategi.jpg", "Aitzol Berasategi", "CC-BY-4.0"),
    _lomiri16("lomiri-picture-0b", "Picture_0B_by_freespace.jpg", 'Trevor "Freespace"', "CC-BY-4.0"),
    _lomiri16("lomiri-picture-1a", "Picture_1A_by_freespace.jpg", 'Trevor "Freespace"', "CC-BY-4.0"),
    # The file name says "Clements"; the copyright file credits Clemens Engelhardt.
    _lomiri16("lomiri-seeding", "seeding_by_Clements_Engelhardt.jpg", "Clemens Engelhardt", "CC0-1.0"),
    _lomiri16("lomiri-sunset", "sunset_by_Aitzol_Berasategi.jpg", "Aitzol Berasategi", "CC-BY-4.0"),
    _lomiri16("lomiri-umang", "umang_by_Abhishek_Mudgal.jpg", "Abhishek Mudgal", "CC-BY-4.0",
              excluded="artwork, not a photograph: a rendered abstract colour gradient"),
    # The file name says "Jakkub"; the copyright file credits Jakub Mede.
    _lomiri16("lomiri-wine", "Wine_by_Jakkub_Mede.jpg", "Jakub Mede", "CC-BY-4.0"),
    # lomiri-wallpapers-20.04: upstream folder 20.04/, all CC-BY-SA-3.0.
    PhotoSource("lomiri-fossa", "lomiri-20.04", "Fossa_by_Jasper_Roks.jpg", "Jasper Roks", "2023", "CC-BY-SA-3.0",
                excluded=f"{_ARTWORK}: an abstract render"),
    PhotoSource("lomiri-infinite-sea", "lomiri-20.04", "Infinite-Sea_by_Aury88.jpg", "Aury88", "2019",
                "CC-BY-SA-3.0", excluded=f"{_ARTWORK}: a digital composition of a starry sky over the sea"),
    PhotoSource("lomiri-kleiber", "lomiri-20.04", "Kleiber_by_Lukas_Baubkus.jpg", "Lukas Baubkus", "2021",
                "CC-BY-SA-3.0"),
    PhotoSource("lomiri-painting-colors", "lomiri-20.04", "Painting-Colors_by__herobrine7gamer.jpg",
                "HEROBRINE7GAMER", "2021", "CC-BY-SA-3.0", excluded=f"{_ARTWORK}: flat colour stripes"),
    # mate-backgrounds: the nature/ photos, all GPL-2+ (copyright holders per debian/copyright).
    _mate("mate-aqua", "Aqua.jpg", "Charles Barbin", "2008"),
    _mate("mate-blinds", "Blinds.jpg", "Lennart Poettering, Andrea Cimitan", "2008"),
    _mate("mate-dune", "Dune.jpg", "Marco Cogoni, Hylke Bons", "2007-2008"),
    _mate("mate-freshflower", "FreshFlower.jpg", "Jens Ansorg", "2005"),
    _mate("mate-garden", "Garden.jpg", "Charles Barbin", "2008"),
    _mate("mate-greenmeadow", "GreenMeadow.jpg", "Timothy Schellhase, Lapo Calamandrei", "2005-2008"),
    _mate("mate-ladybird", "LadyBird.jpg", "Charles Barbin", "2008"),
    _mate("mate-raindrops", "RainDrops.jpg", "blackcombwhistler07", "2008"),
    _mate("mate-storm", "Storm.jpg", "Sergey Nazarov", "2008"),
    _mate("mate-twowings", "TwoWings.jpg", "Charles Barbin, Hylke Bons", "2008"),
    _mate("mate-wood", "Wood.jpg", "Jean-François Fortin Tam", "2008"),
    _mate("mate-yellowflower", "YellowFlower.jpg", "Charles Barbin", "2008"),
    # mate-backgrounds' other JPEGs are outside nature/ and are not photographs.
    _mate("mate-elephants", "Elephants.jpg", "Wyng Stancikaite", "2020", folder="abstract",
          excluded=f"{_ARTWORK}: a painting (abstract/)"),
    _mate("mate-elephants-3840", "Elephants_3840x2160.jpg", "Wyng Stancikaite", "2020", folder="abstract",
          excluded=f"{_ARTWORK}: a painting (abstract/)"),
    _mate("mate-elephants-5640", "Elephants_5640x3172.jpg", "Wyng Stancikaite", "2020", folder="abstract",
          excluded=f"{_ARTWORK}: a painting (abstract/)"),
    _mate("mate-greentraditional", "GreenTraditional.jpg", "l0r4n0n", "2012", folder="desktop",
          excluded=f"{_ARTWORK}: a logo on a plain background (desktop/)"),
    # scikit-image's bundled photos (licences and credits from the skimage.data docstrings).
    PhotoSource("skimage-astronaut", "skimage", "astronaut", "NASA (astronaut Eileen Collins)", None, PUBLIC_DOMAIN,
                url="https://flic.kr/p/r9qvLn"),
    PhotoSource("skimage-chelsea", "skimage", "chelsea", "Stefan van der Walt", None, "CC0-1.0"),
    PhotoSource("skimage-coffee", "skimage", "coffee", "Rachel Michetti (courtesy of Pikolo Espresso Bar)", None,
                "CC0-1.0"),
    PhotoSource("skimage-rocket", "skimage", "rocket", "SpaceX (DSCOVR launch on Falcon 9)", "2015", PUBLIC_DOMAIN,
                url="https://www.flickr.com/photos/spacexphotos/16511594820/"),
    PhotoSource("skimage-brick", "skimage", "brick", "CC0Textures (Bricks25)", None, "CC0-1.0",
                url="https://cc0textures.com/view.php?tex=Bricks25"),
    PhotoSource("skimage-grass", "skimage", "grass", "linolafett (DeviantArt, Grass-01)", None, "CC0-1.0",
                url="https://www.deviantart.com/linolafett/art/Grass-01-434853879"),
    PhotoSource("skimage-gravel", "skimage", "gravel", "CC0Textures (Gravel04)", None, "CC0-1.0",
                url="https://cc0textures.com/view.php?tex=Gravel04"),
)


def parse_sources(sources: str | Iterable[str]) -> tuple[str, ...]:
    """Source ids from a comma-separated string or a list, checked, deduplicated, in table order."""
    items = sources.split(",") if isinstance(sources, str) else list(sources)
    names = {str(s).strip() for s in items if str(s).strip()}
    unknown = sorted(names - set(SOURCE_IDS))
    if unknown:
        raise InvalidArgumentError(
            f"--sources: unknown source {', '.join(map(repr, unknown))}; choose from {', '.join(SOURCE_IDS)}"
        )
    if not names:
        raise InvalidArgumentError(f"--sources: name at least one of {', '.join(SOURCE_IDS)}")
    return tuple(s for s in SOURCE_IDS if s in names)


def photos_for(sources: str | Iterable[str] = SOURCE_IDS, *, include_excluded: bool = False) -> tuple[PhotoSource, ...]:
    """The table's rows for the named sources (only the included ones unless asked)."""
    wanted = parse_sources(sources)
    return tuple(p for s in wanted for p in PHOTOS if p.source == s and (include_excluded or p.included))


def load_skimage_photo(entry: PhotoSource) -> np.ndarray:
    """A scikit-image photo as HxWx3 uint8 RGB (grayscale ones are repeated to three channels)."""
    from skimage import data

    from holefill.io import check_image

    loader = getattr(data, entry.path, None)
    if loader is None:
        raise HolefillError(f"scikit-image {_skimage_version()} has no such photo", entry.original)
    try:
        image = loader()
    except Exception as exc:  # a broken install: say which photo, never a traceback
        raise HolefillError(f"cannot be read ({type(exc).__name__}: {exc})", entry.original) from None
    return check_image(np.asarray(image), entry.original)


def _skimage_version() -> str:
    import skimage

    return str(getattr(skimage, "__version__", "?"))
