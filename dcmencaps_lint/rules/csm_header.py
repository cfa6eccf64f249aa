"""CSM: what a frame's codestream header says, compared with the transfer syntax and the
Image Pixel attributes (dimensions, components, precision, sign, process, tables).

The other CSM rules (start and end markers, wrappers, RLE and deflate framing) are in
csm.py. Headers are parsed once per frame by the context (codestream.py).
"""

from __future__ import annotations
