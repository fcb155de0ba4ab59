"""Target blocks: ``target fpga { ... }`` and ``target gap8 { ... }`` -> ``ir.FpgaTarget``
and ``ir.Gap8Target``, with their units, ranges and ``fold(auto)`` goals."""

from __future__ import annotations

from . import ast
from .. import devices, ir
from ..errors import MbdslError, TargetError
from ..hints import did_you_mean

__all__ = ["targets"]

# Units as the docs spell them; matched without regard to case.
_SIZE_UNITS = {"B": 1, "kB": 1000, "KiB": 1024, "MB": 1000**2, "MiB": 1024**2}
_CLOCK_UNITS = {"Hz": 1, "kHz": 1e3, "MHz": 1e6, "GHz": 1e9}
_SHARE_UNITS = {"%": 0.01}


def targets(decls: list[ast.TargetDecl]):
    fpga = gap8 = None
    for decl in decls:
        if decl.kind == "fpga":
            if fpga is not None:
                raise TargetError(f"target fpga is already given at {fpga.span}", decl.span, "merge the settings into one target fpga block")
            fpga = _fpga(decl)
        elif decl.kind == "gap8":
            if gap8 is not None:
                raise TargetError(f"target gap8 is already given at {gap8.span}", decl.span, "merge the settings into one target gap8 block")
            gap8 = _gap8(decl)
        else:
            raise TargetError(f"unknown target '{decl.kind}'", decl.kind_span or decl.span, did_you_mean(decl.kind, ("fpga", "gap8")))
    return fpga, gap8


def _quantity(s: ast.Setting, units: dict[str, float], default_unit: str, bounds: tuple[float, float, str] | None = None) -> float:
    """A number with an optional unit; ``bounds`` = (low, high, how the range is said)."""
    if not s.values or s.values[0].kind != "number":
        raise TargetError(f"'{s.key}' takes a number", s.span)
    if len(s.values) > 2:
        raise TargetError(f"'{s.key}' takes a number and an optional unit", s.values[2].span)
    factor = units.get(default_unit, 1)
    if len(s.values) == 2:
        u = s.values[1]
        by_case = {k.lower(): v for k, v in units.items()}
        if u.kind != "word" or u.value.lower() not in by_case:
            raise TargetError(f"unknown unit {u.value!r} for '{s.key}'", u.span, did_you_mean(str(u.value), units))
        factor = by_case[u.value.lower()]
    value = s.values[0].value * factor
    if value <= 0:
        raise TargetError(f"'{s.key}' must be positive", s.values[0].span)
    if bounds is not None and not bounds[0] <= value <= bounds[1]:
        raise TargetError(f"'{s.key}' must lie between {bounds[2]}", s.values[0].span)
    return value


_GOALS = ("fps", "mac_lanes", "lut", "bram")
_FPGA_SETTINGS = ("clock", "part", "device", "utilisation") + _GOALS


def _given_once(decl: ast.TargetDecl) -> None:
    """A setting written twice would silently override the first: refuse the second."""
    seen: dict[str, ast.Setting] = {}
    for s in decl.settings:
        if s.key in seen:
            raise TargetError(f"'{s.key}' is given twice (first at {seen[s.key].span})", s.span, "keep one")
        seen[s.key] = s


def _fpga(decl: ast.TargetDecl) -> ir.FpgaTarget:
    _given_once(decl)
    fields: dict = {"span": decl.span}
    goal: dict = {}
    for s in decl.settings:
        if s.key == "clock":
            fields["clock_hz"] = _quantity(s, _CLOCK_UNITS, "MHz", (*ir.CLOCK_RANGE, "1 kHz and 10 GHz"))
        elif s.key == "part":
            if len(s.values) != 1 or s.values[0].kind != "string":
                raise TargetError("'part' takes a quoted part name", s.span, 'e.g. part "xcu250-figd2104-2L-e"')
            fields["part"] = s.values[0].value
        elif s.key == "device":
            fields["device"] = _device(s)
        elif s.key == "utilisation":
            fields["utilisation"] = _share(s)
        elif s.key in _GOALS:
            value = _quantity(s, {"": 1}, "", (*ir.FPS_RANGE, "0.001 and 1e9 FPS")) if s.key == "fps" else _count(s)
            goal[s.key] = (value, s.span)
        else:
            raise TargetError(f"target fpga has no setting '{s.key}'", s.span, did_you_mean(s.key, _FPGA_SETTINGS))
    _check_utilisation(decl, fields, goal)
    if goal:
        fields["goal"] = _fold_goal(goal)
    elif "device" in fields:
        setting = next(s for s in decl.settings if s.key == "device")
        fields["goal"] = devices.fold_goal(devices.device(fields["device"]), fields.get("utilisation"), setting.span)
    if "device" in fields and "clock_hz" in fields:
        _check_clock(decl, fields["device"], fields["clock_hz"])
    return ir.FpgaTarget(**fields)


def _check_clock(decl: ast.TargetDecl, name: str, clock_hz: float) -> None:
    """No folding closes timing above the clock the slowest unit kind reaches on the device."""
    dev = devices.device(name)
    limit = devices.max_clock_mhz(dev)
    if limit is not None and clock_hz > limit * 1e6:
        span = next(s.span for s in decl.settings if s.key == "clock")
        raise TargetError(
            f"no folding closes timing at {clock_hz / 1e6:g} MHz on {dev.name}: its slowest unit kind routes at "
            f"{limit:g} MHz (measured alone, bench/impl.py), and a unit's logic depth does not depend on its folding",
            span, f"use a clock of at most {limit:g} MHz; mbdsl impl measures what a whole network reaches",
        )


def _share(s: ast.Setting) -> float:
    """A utilisation ceiling, ``70%`` (or ``70``): the share of every resource of the device."""
    value = _quantity(s, _SHARE_UNITS, "%")
    low, high = devices.UTILISATION_RANGE
    if not low <= value <= high:
        raise TargetError(f"'utilisation' must lie between {low:.0%} and {high:.0%}, not {value * 100:g}%", s.values[0].span,
                          "e.g. utilisation 70% (fold(auto) plans for 70% of every resource; default 80%)")
    return value


def _check_utilisation(decl: ast.TargetDecl, fields: dict, goal: dict) -> None:
    """A utilisation ceiling applies to a device's budgets, which another goal replaces."""
    if "utilisation" not in fields:
        return
    span = next(s.span for s in decl.settings if s.key == "utilisation")
    if "device" not in fields:
        raise TargetError("'utilisation' is a share of a device's resources, and target fpga names no device", span,
                          'add e.g. device "xcu250-figd2104-2L-e", or drop utilisation')
    if goal:
        raise TargetError(f"'utilisation' sets the device's budgets, which the goal '{next(iter(goal))}' replaces", span,
                          "drop the goal to fold for the device's budgets, or drop utilisation")


def _device(s: ast.Setting) -> str:
    """A device setting: the device's name."""
    if len(s.values) != 1 or s.values[0].kind != "string":
        raise TargetError("'device' takes a quoted device name", s.span, 'e.g. device "LFE5U-85F"')
    try:
        dev = devices.device(s.values[0].value)
    except MbdslError as exc:
        raise TargetError(exc.message, s.values[0].span, exc.hint) from None
    return dev.name


def _count(s: ast.Setting) -> int:
    if len(s.values) != 1 or s.values[0].kind != "number" or not isinstance(s.values[0].value, int) or not 1 <= s.values[0].value <= ir.MAX_BUDGET:
        raise TargetError(f"'{s.key}' takes one whole number from 1 to {ir.MAX_BUDGET:,}", s.span, f"e.g. {s.key} 5764" if s.key == "mac_lanes" else f"e.g. {s.key} 400000")
    return s.values[0].value


def _fold_goal(goal: dict) -> ir.FoldGoal:
    """One goal for fold(auto): fps, or mac_lanes, or the budgets lut and/or bram."""
    kinds = [k for k in ("fps", "mac_lanes") if k in goal] + (["lut/bram"] if "lut" in goal or "bram" in goal else [])
    if len(kinds) > 1:
        second = max((goal[k][1] for k in goal), key=lambda span: (span.line, span.column))
        raise TargetError(
            f"target fpga asks for {' and '.join(kinds)}: fold(auto) meets one goal",
            second,
            "give fps (fewest MAC lanes for a frame rate), mac_lanes (fastest II within N lanes), or lut and/or bram budgets",
        )
    first = min((span for _, span in goal.values()), key=lambda span: (span.line, span.column))
    return ir.FoldGoal(span=first, **{k: v for k, (v, _) in goal.items()})


def _gap8(decl: ast.TargetDecl) -> ir.Gap8Target:
    _given_once(decl)
    fields: dict = {"span": decl.span}
    sizes = ("l1", "l2", "l3", "l1_reserve", "l2_reserve")
    for s in decl.settings:
        if s.key in sizes:
            fields[s.key] = int(_quantity(s, _SIZE_UNITS, "B", (1, 2**40, "1 B and 1 TiB")))
        elif s.key == "cores":
            if len(s.values) > 1:
                raise TargetError("'cores' takes one whole number, without a unit", s.values[1].span, "e.g. cores 8")
            n = _quantity(s, {"": 1}, "")
            if n != int(n) or not 1 <= n <= 8:
                raise TargetError("the GAP8 cluster has 1 to 8 cores", s.values[0].span)
            fields["cores"] = int(n)
        elif s.key == "clock":
            fields["clock_hz"] = _quantity(s, _CLOCK_UNITS, "MHz", (*ir.CLOCK_RANGE, "1 kHz and 10 GHz"))
        else:
            raise TargetError(f"target gap8 has no setting '{s.key}'", s.span, did_you_mean(s.key, sizes + ("cores", "clock")))
    target = ir.Gap8Target(**fields)
    if target.l1_reserve >= target.l1 or target.l2_reserve >= target.l2:
        raise TargetError("the reserves leave no L1/L2 for data", decl.span, f"l1 {target.l1} (reserve {target.l1_reserve}), l2 {target.l2} (reserve {target.l2_reserve})")
    return target
