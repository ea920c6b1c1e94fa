"""Product images: uploads checked by content, stored under their hash, rendered in the background;
reordered, described in both languages and deleted from the back office.

An upload is decoded with Pillow before anything is written, so a refused file leaves neither a
row nor a file behind. Originals live at ``products/<product id>/<sha256[:16]>.<ext>`` under
``MEDIA_ROOT``; the renditions job writes ``<sha16>-<width>.webp|.jpg`` beside them. Names are
content-addressed, so the media route can let browsers cache them for a year.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from flask import current_app
from flask_babel import LazyString, format_decimal
from flask_babel import lazy_gettext as _l
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError
from sqlalchemy import exists, func, select

from shop import queue
from shop.catalogue.errors import NotFound
from shop.catalogue.models import Product, ProductImage
from shop.catalogue.services import commit_changes
from shop.extensions import db

log = logging.getLogger("shop.images")

FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
RENDITION_WIDTHS = (320, 640, 1280)
RENDITION_FORMATS = {"webp": "webp", "jpeg": "jpg"}
RENDITION_QUALITY = 82
MEDIA_URL = "/media/"
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_PIXELS = 40_000_000
DEFAULT_MIN_SIDE = 200
ALT_MAX_LENGTH = 200
_EXIF_ORIENTATION = 0x0112
_READ_CHUNK = 64 * 1024


class ImageRejected(Exception):
    """An upload we refuse; ``message`` tells the person who sent it why."""

    reason = "rejected"
    message = _l("This image could not be accepted.")


class NotAnImage(ImageRejected):
    reason = "not_an_image"
    message = _l("This file is not an image. Please choose a JPEG, PNG or WebP picture.")


class DamagedImage(ImageRejected):
    reason = "damaged"
    message = _l("This image is incomplete or damaged. Please export it again and retry.")


class UnsupportedFormat(ImageRejected):
    reason = "unsupported_format"
    message = _l("This image format is not supported. Please use JPEG, PNG or WebP.")


class ImageTooLarge(ImageRejected):
    reason = "too_large"

    def __init__(self, max_bytes: int) -> None:
        super().__init__(max_bytes)
        self.message = _l(
            "This file is too large. Please choose an image under %(size)s MB.",
            size=LazyString(_megabytes, max_bytes),
        )


class TooManyPixels(ImageRejected):
    reason = "too_many_pixels"
    message = _l("This image has too many pixels. Please resize it and retry.")


class ImageTooSmall(ImageRejected):
    reason = "too_small"

    def __init__(self, min_side: int) -> None:
        super().__init__(min_side)
        self.message = _l(
            "This image is too small. Its shorter side needs at least %(pixels)s pixels.",
            pixels=min_side,
        )


def _megabytes(size: int) -> str:
    """The limit in megabytes, two significant digits, in the reader's number format."""
    return format_decimal(float(f"{size / 1_000_000:.2g}"))


# -- upload ------------------------------------------------------------------------------


def add_product_image(
    product_id: int,
    stream: BinaryIO,
    *,
    alt_fr: str,
    alt_en: str,
    created: Callable[[ProductImage], None] | None = None,
    commit: bool = True,
) -> ProductImage:
    """Check the upload, store the original and record it, after the product's other images;
    renditions follow after the commit. ``created`` and ``commit`` as for the catalogue
    services (``shop.catalogue.services``)."""
    if db.session.get(Product, product_id) is None:
        raise NotFound(product_id)
    data = _read_limited(stream, _setting("IMAGE_MAX_BYTES", DEFAULT_MAX_BYTES))
    image_format, width, height = _inspect(data)
    sha256 = hashlib.sha256(data).hexdigest()
    path = f"products/{product_id}/{sha256[:16]}.{FORMATS[image_format]}"
    _write_once(media_root() / path, data)
    last = db.session.execute(
        db.select(func.max(ProductImage.position)).where(ProductImage.product_id == product_id)
    ).scalar_one()
    image = ProductImage(
        product_id=product_id,
        position=0 if last is None else last + 1,
        path=path,
        sha256=sha256,
        width=width,
        height=height,
        alt_fr=alt_fr.strip()[:ALT_MAX_LENGTH],
        alt_en=alt_en.strip()[:ALT_MAX_LENGTH],
        renditions={},
    )
    db.session.add(image)
    db.session.flush()
    queue.defer("shop.jobs.render_image_renditions", image.id)
    if created is not None:
        created(image)
    if commit:
        commit_changes()
    return image


def _read_limited(stream: BinaryIO, max_bytes: int) -> bytes:
    """The upload's bytes, reading no further than one byte past the limit."""
    buffer = bytearray()
    while len(buffer) <= max_bytes:
        chunk = stream.read(min(_READ_CHUNK, max_bytes + 1 - len(buffer)))
        if not chunk:
            break
        buffer += chunk
    if len(buffer) > max_bytes:
        raise ImageTooLarge(max_bytes)
    if not buffer:
        raise NotAnImage()
    return bytes(buffer)


def _inspect(data: bytes) -> tuple[str, int, int]:
    """Format and displayed size of a fully decodable image, or the reason to refuse it.

    The header is checked (format, pixel count, size) before the pixels are decoded, so a
    decompression bomb is refused without ever being expanded.
    """
    max_pixels = _setting("IMAGE_MAX_PIXELS", DEFAULT_MAX_PIXELS)
    min_side = _setting("IMAGE_MIN_SIDE", DEFAULT_MIN_SIDE)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as image:
                if image.format not in FORMATS:
                    raise UnsupportedFormat()
                width, height = image.size
                if width * height > max_pixels:
                    raise TooManyPixels()
                if min(width, height) < min_side:
                    raise ImageTooSmall(min_side)
                image.load()
                if image.getexif().get(_EXIF_ORIENTATION) in (5, 6, 7, 8):
                    width, height = height, width
                return image.format, width, height
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise TooManyPixels() from error
        except UnidentifiedImageError as error:
            raise NotAnImage() from error
        except (OSError, SyntaxError, ValueError) as error:
            raise DamagedImage() from error


# -- the images of a product -------------------------------------------------------------


def load_image(image_id: int) -> ProductImage:
    image = db.session.get(ProductImage, image_id)
    if image is None:
        raise NotFound(image_id)
    return image


def image_snapshot(image: ProductImage) -> dict[str, Any]:
    """What the audit log records of an image."""
    return {
        "product_id": image.product_id,
        "position": image.position,
        "path": image.path,
        "alt_fr": image.alt_fr,
        "alt_en": image.alt_en,
    }


def move_image(image_id: int, offset: int) -> ProductImage:
    """Swap the image with its neighbour (``offset`` -1: earlier, +1: later)."""
    image = load_image(image_id)
    siblings = list(
        db.session.execute(
            select(ProductImage)
            .where(ProductImage.product_id == image.product_id)
            .order_by(ProductImage.position, ProductImage.id)
            .with_for_update()
        ).scalars()
    )
    index = siblings.index(image)
    target = index + offset
    if 0 <= target < len(siblings):
        siblings[index], siblings[target] = siblings[target], siblings[index]
    for position, sibling in enumerate(siblings):
        sibling.position = position
    commit_changes()
    return image


def set_image_alt(image_id: int, *, alt_fr: str, alt_en: str) -> ProductImage:
    image = load_image(image_id)
    image.alt_fr = alt_fr.strip()[:ALT_MAX_LENGTH]
    image.alt_en = alt_en.strip()[:ALT_MAX_LENGTH]
    commit_changes()
    return image


def delete_image(image_id: int) -> None:
    """Remove the image; its files go too unless another row shares them (the demo does)."""
    image = load_image(image_id)
    path, renditions = image.path, dict(image.renditions or {})
    db.session.delete(image)
    db.session.flush()
    shared = db.session.execute(select(exists().where(ProductImage.path == path))).scalar()
    commit_changes()
    if not shared:
        root = media_root()
        files = [path] + [p for formats in renditions.values() for p in formats.values()]
        for relpath in files:
            (root / relpath).unlink(missing_ok=True)


# -- renditions --------------------------------------------------------------------------


def render_renditions(image_id: int) -> dict[str, dict[str, str]]:
    """Write the missing renditions of an image's original and record them.

    Safe to run twice: existing files are kept as they are. Rows sharing the same stored
    original (the demo catalogue reuses a few pictures) share its renditions too.
    """
    image = db.session.get(ProductImage, image_id)
    if image is None:
        log.info("renditions: image is gone", extra={"image_id": image_id})
        return {}
    root = media_root()
    original = root / image.path
    if not original.is_file():
        log.warning("renditions: original missing", extra={"image_id": image_id})
        return {}
    stem = Path(image.path).parent / image.sha256[:16]
    widths = rendition_widths(image.width)
    renditions: dict[str, dict[str, str]] = {}
    base: Image.Image | None = None
    for width in widths:
        entry = {}
        for fmt, ext in RENDITION_FORMATS.items():
            relpath = f"{stem.as_posix()}-{width}.{ext}"
            target = root / relpath
            if not target.exists():
                if base is None:
                    base = _rgb_original(original)
                height = max(1, round(base.height * width / base.width))
                resized = base.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)
                _write_once(target, _encode(resized, fmt))
            entry[fmt] = relpath
        renditions[str(width)] = entry
    db.session.execute(
        db.update(ProductImage).where(ProductImage.path == image.path).values(renditions=renditions)
    )
    commit_changes()
    return renditions


def rendition_widths(original_width: int) -> list[int]:
    """320, 640 and 1280 pixels wide, never upscaled; a narrower original gets its own width."""
    widths = [w for w in RENDITION_WIDTHS if w <= original_width]
    return widths or [original_width]


def _rgb_original(path: Path) -> Image.Image:
    """The original upright, in sRGB, any transparency laid on white."""
    with Image.open(path) as opened:
        image = ImageOps.exif_transpose(opened)
        icc = image.info.get("icc_profile")
        if icc and image.mode in ("RGB", "RGBA", "CMYK"):
            image = _to_srgb(image, icc)
        if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
            rgba = image.convert("RGBA")
            background = Image.new("RGB", rgba.size, (255, 255, 255))
            background.paste(rgba, mask=rgba.getchannel("A"))
            return background
        return image.convert("RGB")


def _to_srgb(image: Image.Image, icc: bytes) -> Image.Image:
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        output_mode = "RGBA" if image.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(
            image, source, ImageCms.createProfile("sRGB"), outputMode=output_mode
        )
    except (ImageCms.PyCMSError, OSError):
        return image
    return converted if converted is not None else image


def _encode(image: Image.Image, fmt: str) -> bytes:
    """Encoded without metadata (no EXIF, no ICC profile: the pixels are sRGB already)."""
    out = io.BytesIO()
    if fmt == "webp":
        image.save(out, "WEBP", quality=RENDITION_QUALITY, method=4)
    else:
        image.save(out, "JPEG", quality=RENDITION_QUALITY, progressive=True, optimize=True)
    return out.getvalue()


# -- files and URLs ----------------------------------------------------------------------


def media_root() -> Path:
    return Path(current_app.config["MEDIA_ROOT"])


def _write_once(target: Path, data: bytes) -> None:
    """Write ``target`` unless it exists, atomically: readers never see half a file."""
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def media_url(relpath: str) -> str:
    return MEDIA_URL + relpath


def srcset(image: ProductImage, fmt: str) -> str:
    """``"/media/products/1/abc-320.webp 320w, ..."`` for ``fmt`` "webp" or "jpeg"."""
    entries = sorted((int(width), paths[fmt]) for width, paths in (image.renditions or {}).items())
    return ", ".join(f"{media_url(path)} {width}w" for width, path in entries)


def fallback_url(image: ProductImage) -> str:
    """The largest JPEG rendition, or the original while the renditions are being made."""
    renditions = image.renditions or {}
    if not renditions:
        return media_url(image.path)
    largest = max(renditions, key=int)
    return media_url(renditions[largest]["jpeg"])


def _setting(key: str, default: int) -> int:
    return int(current_app.config.get(key, default))
