"""Screenshot comparison against committed reference images (Playwright for Python has no
``toHaveScreenshot``): the same size, and at most ``MAX_SHARE`` of the pixels differing by more
than ``THRESHOLD`` in pixelmatch's YIQ colour distance.

``check(name, png)`` compares a screenshot with ``tests/screenshots/<name>.png``. A missing
reference fails. With ``UPDATE_SCREENSHOTS=1`` in the environment a missing or differing
reference is (re)written instead and the test is skipped with the path written (it compared
nothing); a reference that still matches is left as it is, so a refresh only touches the
images of pages that changed. On a failure, ``test-results/screenshots/<name>/`` (gitignored)
holds ``actual.png``, ``expected.png`` and ``diff.png`` (differing pixels in red over a faded
copy of the reference).
"""

from __future__ import annotations

import io
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageMath

ROOT = Path(__file__).resolve().parent.parent
REFERENCES = Path(__file__).resolve().parent / "screenshots"
RESULTS = ROOT / "test-results" / "screenshots"
UPDATE_VARIABLE = "UPDATE_SCREENSHOTS"
REFRESH_COMMAND = f"{UPDATE_VARIABLE}=1 .venv/bin/pytest tests/test_screenshots_browser.py"

# pixelmatch's default: a pixel differs when its YIQ distance exceeds 35215 × threshold²
# (35215 is the largest distance, black against white).
THRESHOLD = 0.1
MAX_YIQ_DELTA = 35215
# Share of differing pixels tolerated (font antialiasing, JPEG decoding).
MAX_SHARE = 0.002


@dataclass(frozen=True)
class Comparison:
    """What ``compare`` found. ``differing`` and ``diff`` are only set for same-size images."""

    actual_size: tuple[int, int]
    expected_size: tuple[int, int]
    differing: int = 0
    diff: Image.Image | None = None

    @property
    def same_size(self) -> bool:
        return self.actual_size == self.expected_size

    @property
    def share(self) -> float:
        width, height = self.expected_size
        return self.differing / (width * height) if width * height else 0.0

    def matches(self, max_share: float = MAX_SHARE) -> bool:
        return self.same_size and self.share <= max_share

    def describe(self) -> str:
        if not self.same_size:
            return "size changed: expected {}×{} px, got {}×{} px".format(
                *self.expected_size, *self.actual_size
            )
        return (
            f"{self.differing} pixels differ ({self.share:.3%} of the image, "
            f"{MAX_SHARE:.2%} allowed; colour threshold {THRESHOLD})"
        )


def compare(actual: Image.Image, expected: Image.Image, threshold: float = THRESHOLD) -> Comparison:
    """Count the pixels whose YIQ distance (pixelmatch's, without its antialiasing
    detection) exceeds ``35215 × threshold²``; ``diff`` shows them in red."""
    actual, expected = actual.convert("RGB"), expected.convert("RGB")
    if actual.size != expected.size:
        return Comparison(actual.size, expected.size)
    if ImageChops.difference(actual, expected).getbbox() is None:
        return Comparison(actual.size, expected.size, 0, _diff_image(expected, None))
    r1, g1, b1 = (band.convert("F") for band in actual.split())
    r2, g2, b2 = (band.convert("F") for band in expected.split())
    limit = MAX_YIQ_DELTA * threshold * threshold
    # the channel differences, then the brightness (y) and chrominance (i, q) differences
    over = ImageMath.lambda_eval(
        lambda a: _yiq_delta(a["r1"] - a["r2"], a["g1"] - a["g2"], a["b1"] - a["b2"]) > limit,
        r1=r1,
        g1=g1,
        b1=b1,
        r2=r2,
        g2=g2,
        b2=b2,
    )
    mask = over.convert("L").point(lambda v: 255 if v else 0)
    differing = mask.histogram()[255]
    return Comparison(actual.size, expected.size, differing, _diff_image(expected, mask))


def _yiq_delta(dr, dg, db):
    y = dr * 0.29889531 + dg * 0.58662247 + db * 0.11448223
    i = dr * 0.59597799 - dg * 0.27417610 - db * 0.32180189
    q = dr * 0.21147017 - dg * 0.52261711 + db * 0.31114694
    return y * y * 0.5053 + i * i * 0.299 + q * q * 0.1957


def _diff_image(expected: Image.Image, mask: Image.Image | None) -> Image.Image:
    faded = expected.convert("L").point(lambda v: 255 - (255 - v) // 10).convert("RGB")
    if mask is not None:
        faded.paste((255, 0, 0), mask=mask)
    return faded


def reference_path(name: str) -> Path:
    return REFERENCES / f"{name}.png"


def save_png(image: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, "PNG", optimize=True)


def check(name: str, png: bytes) -> None:
    """Assert the screenshot ``png`` matches the reference ``name`` (see the module's
    docstring for the update mode and the files a failure leaves)."""
    actual = Image.open(io.BytesIO(png)).convert("RGB")
    reference = reference_path(name)
    results = RESULTS / name
    shutil.rmtree(results, ignore_errors=True)
    updating = os.environ.get(UPDATE_VARIABLE) == "1"
    if not reference.exists():
        if updating:
            save_png(actual, reference)
            pytest.skip(f"{UPDATE_VARIABLE}=1: wrote the missing reference {_shown(reference)}")
        save_png(actual, results / "actual.png")
        pytest.fail(
            f"no reference image {_shown(reference)} (never created by a normal run); the "
            f"screenshot taken is {_shown(results / 'actual.png')}. Check it, then run "
            f"`{REFRESH_COMMAND}` and commit the new PNG.",
            pytrace=False,
        )
    with Image.open(reference) as stored:
        expected = stored.convert("RGB")
    comparison = compare(actual, expected)
    if comparison.matches():
        return
    if updating:
        save_png(actual, reference)
        pytest.skip(f"{UPDATE_VARIABLE}=1: rewrote {_shown(reference)} ({comparison.describe()})")
    save_png(actual, results / "actual.png")
    save_png(expected, results / "expected.png")
    if comparison.diff is not None:
        save_png(comparison.diff, results / "diff.png")
    pytest.fail(
        f"screenshot {name!r} does not match {_shown(reference)}: {comparison.describe()}. "
        f"Actual, expected and diff images in {_shown(results)}/. If the change is "
        f"intended, run `{REFRESH_COMMAND}` and commit the new PNG.",
        pytrace=False,
    )


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)
