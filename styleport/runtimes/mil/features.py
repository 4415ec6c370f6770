"""CoreML's model-level I/O semantics around the MIL program (what ``MLModel.predict`` does).

* Image input (``imageType``): the caller passes 8-bit pixels (a CVPixelBuffer on Apple
  platforms; here an (H,W,3) uint8 array). CoreML checks the size against the declared
  enumerated sizes / size range / fixed size, then hands the program a (1,C,H,W) float tensor of
  the raw 0..255 values in the declared channel order (RGB, BGR or grayscale). Scale and bias
  are ops inside the program (coremltools inserts them), not part of this step.
* Image output: the program's (1,C,H,W) float tensor becomes 8-bit pixels. Apple does not
  document the rounding; we clamp to 0..255 and round to nearest (so an output may differ by
  one level from Apple's if it truncates). Parity tolerances for image I/O allow for that.
* Multi-array input/output (``multiArrayType``): shapes checked against enumerated shapes /
  shape ranges / the fixed shape; values are passed through.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from styleport.runtimes.mil.values import MILError

_COLOR = {10: "GRAYSCALE", 20: "RGB", 30: "BGR", 40: "GRAYSCALE_FLOAT16"}


@dataclasses.dataclass(frozen=True)
class Feature:
    """One model input or output as the CoreML model description declares it."""

    name: str
    kind: str  # "image" or "tensor"
    color: str = ""  # images: RGB, BGR, GRAYSCALE
    enumerated: tuple[tuple[int, ...], ...] = ()  # images: (H, W); tensors: full shapes
    ranges: tuple[tuple[int, int], ...] = ()  # per dim (lower, upper); upper -1 = unbounded
    fixed: tuple[int, ...] = ()

    def check_shape(self, shape: tuple[int, ...]) -> None:
        """Raise MILError if CoreML would reject this input size. ``shape``: (H,W) or the tensor shape."""
        if self.enumerated:
            if tuple(shape) not in self.enumerated:
                allowed = ", ".join("x".join(map(str, s)) for s in self.enumerated)
                raise MILError(
                    f"input '{self.name}' size {'x'.join(map(str, shape))} is not one of the model's enumerated sizes: {allowed}"
                )
            return
        if self.ranges:
            for dim, (size, (low, high)) in enumerate(zip(shape, self.ranges, strict=True)):
                if size < low or (high != -1 and size > high):
                    raise MILError(
                        f"input '{self.name}' dim {dim} = {size} is outside the model's range [{low}, {high}]"
                    )
            return
        if self.fixed and tuple(shape) != self.fixed:
            raise MILError(
                f"input '{self.name}' must be {'x'.join(map(str, self.fixed))}, got {'x'.join(map(str, shape))}"
            )


def parse_feature(description) -> Feature:
    """A ``FeatureDescription`` proto -> Feature."""
    ftype = description.type
    which = ftype.WhichOneof("Type")
    if which == "imageType":
        img = ftype.imageType
        color = _COLOR.get(img.colorSpace, "")
        if color not in ("RGB", "BGR", "GRAYSCALE"):
            raise MILError(f"feature '{description.name}': unsupported image color space {img.colorSpace}")
        enumerated = tuple((s.height, s.width) for s in img.enumeratedSizes.sizes)
        ranges: tuple[tuple[int, int], ...] = ()
        if img.WhichOneof("SizeFlexibility") == "imageSizeRange":
            r = img.imageSizeRange
            ranges = (
                (r.heightRange.lowerBound, r.heightRange.upperBound),
                (r.widthRange.lowerBound, r.widthRange.upperBound),
            )
        return Feature(description.name, "image", color, enumerated, ranges, (img.height, img.width))
    if which == "multiArrayType":
        arr = ftype.multiArrayType
        enumerated = tuple(tuple(s.shape) for s in arr.enumeratedShapes.shapes)
        ranges = tuple((r.lowerBound, r.upperBound) for r in arr.shapeRange.sizeRanges)
        return Feature(description.name, "tensor", "", enumerated, ranges, tuple(arr.shape))
    raise MILError(f"feature '{description.name}': unsupported feature type {which}")


def image_to_tensor(feature: Feature, pixels: np.ndarray) -> np.ndarray:
    """(H,W,3) or (H,W) uint8 pixels -> the (1,C,H,W) float32 tensor the program receives."""
    if pixels.dtype != np.uint8:
        raise MILError(f"image input '{feature.name}' takes 8-bit pixels (uint8), got {pixels.dtype}")
    feature.check_shape(pixels.shape[:2])
    if feature.color == "GRAYSCALE":
        if pixels.ndim != 2:
            raise MILError(f"image input '{feature.name}' is grayscale: pass an (H,W) array")
        return pixels.astype(np.float32)[None, None]  # (H,W) -> (1,1,H,W)
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise MILError(
            f"image input '{feature.name}' is {feature.color}: pass an (H,W,3) RGB array, got {pixels.shape}"
        )
    if feature.color == "BGR":
        pixels = pixels[:, :, ::-1]
    return np.ascontiguousarray(pixels.transpose(2, 0, 1), dtype=np.float32)[None]  # (H,W,3) -> (1,3,H,W)


def tensor_to_image(feature: Feature, tensor: np.ndarray) -> np.ndarray:
    """The program's (1,C,H,W) output -> (H,W,3) or (H,W) uint8 pixels (clamped, rounded)."""
    if tensor.ndim != 4 or tensor.shape[0] != 1:
        raise MILError(f"image output '{feature.name}' must be (1,C,H,W), the program produced {tensor.shape}")
    pixels = np.clip(np.rint(tensor[0].astype(np.float32)), 0, 255).astype(np.uint8)
    if feature.color == "GRAYSCALE":
        return pixels[0]  # (1,H,W) -> (H,W)
    pixels = pixels.transpose(1, 2, 0)  # (3,H,W) -> (H,W,3)
    return np.ascontiguousarray(pixels[:, :, ::-1] if feature.color == "BGR" else pixels)
