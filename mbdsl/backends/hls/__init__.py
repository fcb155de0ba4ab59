"""HLS C++ backend: FINN-style dataflow C++ for Vitis HLS, runnable on a host with g++.

``generate(net, params)`` returns the sources (see :mod:`mbdsl.backends.hls._generate`);
:mod:`mbdsl.backends.hls.csim` compiles and runs them against the reference.
"""

from ._generate import CXXFLAGS, generate

__all__ = ["generate", "CXXFLAGS"]
