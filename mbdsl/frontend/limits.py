"""The limits of what a spec may say: they keep every later computation (divisors,
estimates, the reference) quick, and a spec beyond them is refused at the number that
exceeds them."""

from __future__ import annotations

__all__ = ["MAX_BITS", "MAX_SIZE", "MAX_CHANNELS", "MAX_KERNEL", "MAX_REPEAT", "MAX_LAYERS", "MAX_INCLUDE_DEPTH", "MAX_INCLUDES"]

MAX_BITS = 8
"""Widest weight or activation type the backends implement."""

MAX_SIZE = 16384
"""Largest image height/width, stride and padding."""
MAX_CHANNELS = 65536
"""Largest channel or class count."""
MAX_KERNEL = 64
"""Largest kernel size."""
MAX_REPEAT = 1024
"""Largest repeat count."""
MAX_LAYERS = 4096
"""Most layers a network may elaborate to."""
MAX_INCLUDE_DEPTH = 16
"""Deepest chain of includes (a spec including a file that includes another is depth 2)."""
MAX_INCLUDES = 256
"""Most files one spec may include, directly or not."""
