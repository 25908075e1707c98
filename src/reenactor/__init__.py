"""reenactor: pose-guided human video synthesis (motion transfer).

Data flows one way: video -> clip store -> dataset -> method -> trainer -> checkpoint -> transfer -> video.
"""

import os as _os
import sys as _sys

__version__ = "0.1.0"

# Large CPU tensors (a batch of 256x256 pose volumes is 200 MB) are fresh mmap'ed memory each time, and filling
# them costs a page fault per 4 KB: measured here, 80 ms to write 210 MB into a new tensor, 21 ms with
# transparent huge pages (PyTorch's own switch, read once, before torch makes its first tensor: so only when
# reenactor is imported first, as the CLI does; a user's setting wins).
if "torch" not in _sys.modules:
    _os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")
