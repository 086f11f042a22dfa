"""numba-cuda under the CUDA simulator (any machine) and GPU backends on a real device."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from gridcap.kernels import backend_status

#: GPU floats: float64 atomics sum block results in a varying order; the draws and the DER
#: physics are the same bits, so only summation order differs.
GPU_RTOL = 1e-12

_SCRIPT = textwrap.dedent("""
    import numpy as np
    from gridcap.kernels import backend_status, simulate
    from gridcap.kernels.testing import tiny_inputs
    assert "simulator" in backend_status()["numba-cuda"], backend_status()
    inp = tiny_inputs(8, seed=2, n_regions=2)
    a = simulate(inp, scenarios=2, seed=5, backend="numba-cuda", hours=48, representative="chronological")
    b = simulate(inp, scenarios=2, seed=5, backend="numpy", hours=48, representative="chronological")
    assert a.attrs["backend"] == "numba-cuda"
    for k in a.data_vars:
        x, y = a[k].values, b[k].values
        if np.issubdtype(x.dtype, np.integer):
            assert np.array_equal(x, y), k
        else:
            np.testing.assert_allclose(x, y, rtol={rtol}, atol=0, equal_nan=True, err_msg=k)
    assert int((a.event_hour >= 0).sum()) > 0
    assert float(a.energy_by_source_mwh.sum()) > 0
    print("CUDASIM-OK")
""").format(rtol=GPU_RTOL)


@pytest.mark.cudasim
def test_numba_cuda_kernel_matches_numpy_under_simulator():
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    res = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, capture_output=True,
                         text=True, timeout=600, check=False)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "CUDASIM-OK" in res.stdout


def test_block_table_keeps_blocks_within_regions():
    from gridcap.kernels.numba_cuda import block_table

    start, count, reg = block_table(np.array([0, 3, 3, 150]), threads=64)
    assert start.tolist() == [0, 3, 67, 131]
    assert count.tolist() == [3, 64, 64, 19]
    assert reg.tolist() == [0, 2, 2, 2]


def _real_gpu(name: str) -> str | None:
    status = backend_status()[name]
    if status != "available":
        return status
    return None


@pytest.mark.gpu
@pytest.mark.parametrize("backend", ["numba-cuda", "cupy"])
def test_gpu_backend_matches_numpy(backend):
    reason = _real_gpu(backend)
    if reason is not None:
        pytest.skip(f"{backend}: {reason}")
    from gridcap.kernels import simulate
    from gridcap.kernels.testing import tiny_inputs

    inp = tiny_inputs(200, seed=4, n_regions=3)
    a = simulate(inp, scenarios=8, seed=5, backend=backend, hours=24 * 28)
    b = simulate(inp, scenarios=8, seed=5, backend="numba-cpu", hours=24 * 28)
    for k in a.data_vars:
        x, y = a[k].values, b[k].values
        if np.issubdtype(x.dtype, np.integer):
            assert np.array_equal(x, y), k
        else:
            np.testing.assert_allclose(x, y, rtol=GPU_RTOL, atol=1e-9, equal_nan=True,
                                       err_msg=k)
