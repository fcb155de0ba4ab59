"""The one Jinja setup for every generator's templates (RTL top, HLS C++, GAP8 C, the HTML
report): each package keeps its templates in a ``templates`` folder beside its modules."""

from __future__ import annotations

import jinja2

__all__ = ["environment"]


def environment(package: str, *, html: bool = False) -> jinja2.Environment:
    """The Jinja environment for the templates of ``package`` (e.g. ``"mbdsl.backends.rtl"``).

    An undefined name is an error, a block tag's line leaves no blank line behind, and a
    template's final newline is kept. With ``html``, rendered values are HTML-escaped.
    """
    return jinja2.Environment(
        loader=jinja2.PackageLoader(package, "templates"),
        autoescape=html,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
