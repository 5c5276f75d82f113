"""Image files in and out: which files are coded lossily, decoding, encoding, metadata kept."""

from .decode import DecodedImage, classify_and_decode, decode_image, rebuild_grayscale, upright_preview
from .encode import encode_image
from .metadata import ImageMetadata, MetadataBlock
from .probe import MAX_PIXELS, ImageClass, classify

__all__ = [
    "MAX_PIXELS",
    "DecodedImage",
    "ImageClass",
    "ImageMetadata",
    "MetadataBlock",
    "classify",
    "classify_and_decode",
    "decode_image",
    "encode_image",
    "rebuild_grayscale",
    "upright_preview",
]
