"""The stage records coerce dtypes and name the field that is wrong."""
import numpy as np
import pytest

from xband.errors import InputError
from xband.types import Commands, Cube, Detections, PlantState, Tracks


def test_detections_shapes_and_dtypes():
    d = Detections(t=[0, 0], range=[1, 2], az=[0, 0], el=[0, 0], range_rate=[0, 0],
                   snr=[1, 1], R=np.zeros((2, 4, 4)))
    assert d.range.dtype == np.float64 and d.range.flags.c_contiguous and len(d) == 2
    assert d.z.shape == (2, 4)
    with pytest.raises(InputError, match="Detections.R"):
        Detections(t=[0], range=[1], az=[0], el=[0], range_rate=[0], snr=[1], R=np.zeros((1, 3, 3)))
    with pytest.raises(InputError, match="different lengths"):
        Detections(t=[0, 1], range=[1], az=[0], el=[0], range_rate=[0], snr=[1],
                   R=np.zeros((1, 4, 4)))
    with pytest.raises(InputError, match="Detections.snr"):
        Detections(t=[0], range=[1], az=[0], el=[0], range_rate=[0], snr=["x"],
                   R=np.zeros((1, 4, 4)))


def test_other_records():
    Tracks.empty()
    c = Commands(t=[0.0], a_cmd=[[1, 2, 3]], t_go=[1.0], saturated=[False])
    assert c.equals(c.take([0]))
    with pytest.raises(InputError, match="Commands.a_cmd"):
        Commands(t=[0.0], a_cmd=[[1, 2]], t_go=[1.0], saturated=[False])
    PlantState(t=[0.0], body_id=[0], pos=[[0, 0, 0]], vel=[[0, 0, 0]], acc=[[0, 0, 0]])
    cube = Cube(np.zeros((3, 4, 8)), 0.0, ("sum", "daz", "del"))
    assert cube.data.dtype == np.complex64
    with pytest.raises(InputError, match="channels"):
        Cube(np.zeros((2, 4, 8)), 0.0, ("sum",))


def test_detections_trusted_takes_arrays_as_they_are():
    """The chain's constructor (no conversion, no check) gives the same record as the
    validating one for arrays that already satisfy the contract, sharing their memory."""
    rng = np.random.default_rng(3)
    kw = {k: rng.random(3) for k in ("t", "range", "az", "el", "range_rate", "snr")}
    kw["R"] = rng.random((3, 4, 4))
    d = Detections.trusted(**kw)
    assert type(d) is Detections and len(d) == 3
    assert all(getattr(d, k) is v for k, v in kw.items())
    assert d.equals(Detections(**kw)) and d.take([0, 2]).equals(Detections(**kw).take([0, 2]))
    assert Detections.trusted(**{k: v[:0] for k, v in kw.items()}).equals(Detections.empty())
    # the public constructor still validates
    with pytest.raises(InputError, match="Detections.R"):
        Detections(**{**kw, "R": rng.random((3, 3, 3))})
