"""Product images: content checks, storage, renditions by the real worker, the media route."""

from __future__ import annotations

import hashlib
import io
import os
import struct
import time
import zlib
from pathlib import Path

import pytest
from flask_babel import force_locale
from PIL import Image
from werkzeug.datastructures import FileStorage

from shop.catalogue import images
from shop.catalogue.models import ProductImage
from shop.catalogue.services import Text
from shop.extensions import db
from tests import catalogue_factory

IMMUTABLE = "public, max-age=31536000, immutable"


@pytest.fixture
def ctx(app, test_env):
    # The test app and the worker process share one instance folder, so one media folder.
    assert app.config["MEDIA_ROOT"] == str(Path(test_env["SHOP_INSTANCE_PATH"]) / "media")
    with app.app_context():
        yield app


@pytest.fixture
def product_id(ctx) -> int:
    texts = {"fr": Text("Chaise en chêne"), "en": Text("Oak chair")}
    return catalogue_factory.product(texts).id


def picture(fmt: str, size: tuple[int, int] = (800, 600), **save: object) -> bytes:
    """A small photo-like picture (a gradient, so encoders have something to compress)."""
    gradient = Image.linear_gradient("L").resize(size)
    image = Image.merge("RGB", (gradient, gradient.rotate(90).resize(size), gradient))
    out = io.BytesIO()
    image.save(out, fmt, **save)
    return out.getvalue()


def noise_jpeg(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(out, "JPEG")
    return out.getvalue()


def png_bomb(width: int, height: int, *, rows: int | None = None) -> bytes:
    """A grayscale PNG whose header promises ``width × height`` pixels.

    With ``rows=None`` the pixel data is complete: all zeros, which zlib squeezes into a
    file thousands of times smaller than the decoded image.
    """

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    raw_rows = height if rows is None else rows
    data = zlib.compress(b"\x00" * ((width + 1) * raw_rows), 9)
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


def media(app) -> Path:
    return Path(app.config["MEDIA_ROOT"])


def stored_images(product_id: int) -> list[ProductImage]:
    return list(
        db.session.execute(
            db.select(ProductImage).where(ProductImage.product_id == product_id)
        ).scalars()
    )


def wait_for_renditions(image_id: int, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.rollback()  # a fresh snapshot: the worker commits from another process
        renditions = db.session.execute(
            db.select(ProductImage.renditions).where(ProductImage.id == image_id)
        ).scalar_one()
        if renditions:
            return renditions
        time.sleep(0.2)
    raise TimeoutError(f"no renditions for image {image_id} after {timeout}s")


# -- accepted uploads ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "ext", "size"),
    [("JPEG", "jpg", (800, 600)), ("PNG", "png", (640, 960)), ("WEBP", "webp", (1000, 400))],
)
def test_valid_uploads_are_stored_by_hash_with_their_size(ctx, product_id, fmt, ext, size):
    data = picture(fmt, size)
    upload = FileStorage(io.BytesIO(data), filename="photo.bin", content_type="text/plain")

    image = images.add_product_image(product_id, upload, alt_fr="Chaise", alt_en="Chair")

    sha = hashlib.sha256(data).hexdigest()
    assert (image.width, image.height) == size
    assert image.sha256 == sha
    assert image.path == f"products/{product_id}/{sha[:16]}.{ext}"
    assert (media(ctx) / image.path).read_bytes() == data
    assert (image.alt_fr, image.alt_en, image.position) == ("Chaise", "Chair", 0)
    assert [i.id for i in stored_images(product_id)] == [image.id]


def test_positions_follow_on_and_exif_rotation_swaps_the_recorded_size(ctx, product_id):
    exif = Image.Exif()
    exif[0x0112] = 6  # taken sideways: displayed rotated by 90°
    first = images.add_product_image(
        product_id, io.BytesIO(picture("JPEG")), alt_fr="a", alt_en="a"
    )
    rotated = images.add_product_image(
        product_id, io.BytesIO(picture("JPEG", (900, 500), exif=exif)), alt_fr="b", alt_en="b"
    )
    assert (first.position, rotated.position) == (0, 1)
    assert (rotated.width, rotated.height) == (500, 900)


# -- refused uploads ------------------------------------------------------------------------


def _gif() -> bytes:
    out = io.BytesIO()
    Image.new("P", (400, 400)).save(out, "GIF")
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "refusal"),
    [
        pytest.param(b"Bonjour, ceci n'est pas une image.\n" * 40, images.NotAnImage, id="text"),
        pytest.param(b"", images.NotAnImage, id="empty"),
        pytest.param(picture("JPEG", (800, 600))[:1500], images.DamagedImage, id="truncated"),
        pytest.param(_gif(), images.UnsupportedFormat, id="gif"),
        pytest.param(picture("PNG", (150, 600)), images.ImageTooSmall, id="too-small"),
        pytest.param(png_bomb(7_000, 7_000), images.TooManyPixels, id="bomb-49-megapixels"),
        pytest.param(png_bomb(50_000, 50_000, rows=1), images.TooManyPixels, id="bomb-header"),
    ],
)
def test_refused_uploads_store_nothing(ctx, product_id, data, refusal):
    upload = FileStorage(io.BytesIO(data), filename="photo.jpg", content_type="image/jpeg")

    with pytest.raises(refusal) as caught:
        images.add_product_image(product_id, upload, alt_fr="x", alt_en="x")

    assert isinstance(caught.value, images.ImageRejected)
    assert str(caught.value.message)
    db.session.rollback()
    assert stored_images(product_id) == []
    assert not (media(ctx) / "products" / str(product_id)).exists()


def test_the_bomb_is_a_small_file():
    assert len(png_bomb(7_000, 7_000)) < 100_000  # so only its pixel count can refuse it


def test_file_over_the_byte_limit_is_refused_before_decoding(ctx, product_id, monkeypatch):
    monkeypatch.setitem(ctx.config, "IMAGE_MAX_BYTES", 5_000)
    data = noise_jpeg((300, 300))
    assert len(data) > 5_000

    with pytest.raises(images.ImageTooLarge) as caught:
        images.add_product_image(product_id, io.BytesIO(data), alt_fr="x", alt_en="x")

    with force_locale("en"):
        assert str(caught.value.message) == (
            "This file is too large. Please choose an image under 0.005 MB."
        )
    with force_locale("fr"):
        assert "0,005" in str(caught.value.message)
    assert stored_images(product_id) == []
    assert not (media(ctx) / "products" / str(product_id)).exists()


def test_file_at_the_byte_limit_is_accepted(ctx, product_id, monkeypatch):
    data = noise_jpeg((300, 300))
    monkeypatch.setitem(ctx.config, "IMAGE_MAX_BYTES", len(data))
    image = images.add_product_image(product_id, io.BytesIO(data), alt_fr="x", alt_en="x")
    assert (image.width, image.height) == (300, 300)


def test_too_small_message_names_the_minimum(ctx, product_id):
    with pytest.raises(images.ImageTooSmall) as caught:
        images.add_product_image(
            product_id, io.BytesIO(picture("PNG", (199, 800))), alt_fr="x", alt_en="x"
        )
    with force_locale("en"):
        assert str(caught.value.message) == (
            "This image is too small. Its shorter side needs at least 200 pixels."
        )


# -- renditions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "widths"),
    [((1600, 1200), [320, 640, 1280]), ((900, 1200), [320, 640]), ((250, 400), [250])],
)
def test_worker_renders_webp_and_progressive_jpeg_without_upscaling(
    ctx, product_id, rq_worker, size, widths
):
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"
    image = images.add_product_image(
        product_id, io.BytesIO(picture("JPEG", size, exif=exif)), alt_fr="x", alt_en="x"
    )

    renditions = wait_for_renditions(image.id)

    assert sorted(int(w) for w in renditions) == widths
    stem = f"products/{product_id}/{image.sha256[:16]}"
    for width in widths:
        assert renditions[str(width)] == {
            "webp": f"{stem}-{width}.webp",
            "jpeg": f"{stem}-{width}.jpg",
        }
        height = round(size[1] * width / size[0])
        with Image.open(media(ctx) / renditions[str(width)]["webp"]) as webp:
            assert (webp.format, webp.size, webp.mode) == ("WEBP", (width, height), "RGB")
        with Image.open(media(ctx) / renditions[str(width)]["jpeg"]) as jpeg:
            assert (jpeg.format, jpeg.size, jpeg.mode) == ("JPEG", (width, height), "RGB")
            assert jpeg.info.get("progressive") == 1
            assert "exif" not in jpeg.info


def test_rendering_twice_gives_the_same_result_without_re_encoding(ctx, product_id, rq_worker):
    image = images.add_product_image(
        product_id, io.BytesIO(picture("PNG", (1400, 700))), alt_fr="x", alt_en="x"
    )
    first = wait_for_renditions(image.id)
    files = [media(ctx) / p for entry in first.values() for p in entry.values()]
    before = {f: f.stat().st_mtime_ns for f in files}

    again = images.render_renditions(image.id)

    assert again == first
    assert {f: f.stat().st_mtime_ns for f in files} == before
    assert sorted(p.name for p in files[0].parent.iterdir()) == sorted(
        [Path(image.path).name, *(f.name for f in files)]
    )


def test_rows_sharing_an_original_share_its_renditions(ctx, product_id, rq_worker):
    other = catalogue_factory.product({"fr": Text("Banc"), "en": Text("Bench")})
    image = images.add_product_image(
        product_id, io.BytesIO(picture("JPEG", (700, 700))), alt_fr="x", alt_en="x", commit=False
    )
    sharing = ProductImage(
        product_id=other.id,
        path=image.path,
        sha256=image.sha256,
        width=image.width,
        height=image.height,
        alt_fr="Banc",
        alt_en="Bench",
    )
    db.session.add(sharing)
    db.session.commit()

    renditions = wait_for_renditions(image.id)

    assert sorted(renditions, key=int) == ["320", "640"]
    assert wait_for_renditions(sharing.id) == renditions


def test_srcset_and_fallback_follow_the_renditions(ctx, product_id, rq_worker):
    image = images.add_product_image(
        product_id, io.BytesIO(picture("JPEG", (1300, 1000))), alt_fr="x", alt_en="x"
    )
    assert images.srcset(image, "webp") == ""
    assert images.fallback_url(image) == f"/media/{image.path}"

    wait_for_renditions(image.id)
    db.session.refresh(image)

    stem = f"/media/products/{product_id}/{image.sha256[:16]}"
    assert images.srcset(image, "webp") == (
        f"{stem}-320.webp 320w, {stem}-640.webp 640w, {stem}-1280.webp 1280w"
    )
    assert images.srcset(image, "jpeg").endswith(f"{stem}-1280.jpg 1280w")
    assert images.fallback_url(image) == f"{stem}-1280.jpg"


def test_renditions_of_a_deleted_image_are_a_no_op(ctx):
    assert images.render_renditions(2_000_000_000) == {}


# -- the media route ----------------------------------------------------------------------


def test_media_route_serves_renditions_for_a_year(ctx, client, product_id, rq_worker):
    image = images.add_product_image(
        product_id, io.BytesIO(picture("JPEG", (800, 800))), alt_fr="x", alt_en="x"
    )
    path = wait_for_renditions(image.id)["640"]["webp"]

    with client.get(f"/media/{path}") as response:
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == IMMUTABLE
        assert response.mimetype == "image/webp"
        assert response.data == (media(ctx) / path).read_bytes()
        assert "Set-Cookie" not in response.headers
    with client.get(f"/media/{image.path}") as original:
        assert original.status_code == 200
        assert original.mimetype == "image/jpeg"


@pytest.mark.parametrize(
    "url",
    [
        "/media/private/contract.pdf",
        "/media/products/../private/contract.pdf",
        "/media/products/%2e%2e/private/contract.pdf",
        "/media/products/..%2fprivate%2fcontract.pdf",
        "/media/products/%2fetc%2fpasswd",
        "/media/products/nothing-here.jpg",
    ],
)
def test_media_route_serves_only_the_products_folder(ctx, client, url):
    private = media(ctx) / "private" / "contract.pdf"
    private.parent.mkdir(parents=True, exist_ok=True)
    private.write_bytes(b"%PDF-1.7 private")

    response = client.get(url, follow_redirects=True)  # "//" is merged by a 308 first

    assert response.status_code == 404
    assert b"%PDF" not in response.data
