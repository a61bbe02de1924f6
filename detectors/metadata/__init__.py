"""Generation-metadata detector: generator signatures declared in a file's own metadata.

Modules: ``containers``/``png`` find the metadata blocks, ``exif`` and ``xmp`` decode EXIF
and XMP, ``stealth`` reads the LSB-hidden copy, one parser per tool family (``a1111``,
``comfyui``, ``fooocus``, ``invokeai``, ``novelai``) recognises signatures, and
``detector`` holds :class:`MetadataDetector`.
"""

from detectors.metadata.detector import PRECEDENCE, MetadataDetector

__all__ = ["PRECEDENCE", "MetadataDetector"]
