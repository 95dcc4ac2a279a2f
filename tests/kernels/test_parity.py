"""Every ext/<stem>.pyx has a numpy twin xband.reference.<stem> with the same public
functions and the same signatures."""
import importlib
import inspect
from pathlib import Path

import pytest

from xband import _kernels

ROOT = Path(__file__).resolve().parents[2]


def _public_functions(mod):
    return {n: f for n, f in vars(mod).items()
            if callable(f) and not n.startswith("_") and not inspect.isclass(f)
            and getattr(f, "__module__", mod.__name__) == mod.__name__}


def test_stems_match_ext_files():
    stems = {p.stem for p in (ROOT / "ext").glob("*.pyx")}
    assert stems == set(_kernels.STEMS)


@pytest.mark.parametrize("stem", _kernels.STEMS)
def test_twin_has_same_functions_and_signatures(stem):
    ext = importlib.import_module(f"xband._ext.{stem}")
    ref = importlib.import_module(f"xband.reference.{stem}")
    ext_f = _public_functions(ext)
    ref_f = _public_functions(ref)
    assert ext_f, f"ext {stem} exports no function"
    missing = set(ext_f) - set(ref_f)
    assert not missing, f"reference.{stem} lacks {missing}"
    for name, f in ext_f.items():
        ps_ext = list(inspect.signature(f).parameters)
        ps_ref = list(inspect.signature(ref_f[name]).parameters)
        assert ps_ext == ps_ref, f"{stem}.{name}: {ps_ext} != {ps_ref}"
