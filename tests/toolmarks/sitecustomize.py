"""Loaded at start-up by every Python process a test starts (this folder is on their
PYTHONPATH during the tests): reports the external tools the process starts."""

from toolnames import install_child_hook

install_child_hook()
