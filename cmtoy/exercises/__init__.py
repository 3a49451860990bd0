"""Checkers for the classroom exercises in ``notebooks/exercises/``.

Each ``check_*`` function takes the student's function, runs it against cmtoy's exact
reference on edge cases (t = 0, t = 1, far tails, several mixtures and schedules) and
seeded random inputs, prints a short verdict and returns a :class:`CheckResult`
(``passed``, ``message``, ``kind``), which also renders in Jupyter. A wrong answer gets
a specific hint where the checker recognises a common mistake (a wrong sign, a missing
alpha_t or sigma_t, a transposed matrix, an off-by-one time, a broken boundary
condition); an exception in the student's code is reported with the input that raised
it; a function that runs past ``time_limit`` seconds is stopped with a message saying so.
Pass ``quiet=True`` to get the result without printing (nbgrader's graded cells assert
``check_*(fn, quiet=True).passed``), and ``seed=`` an int to run other random inputs and
mixtures than the ones a class sees (the hidden grading tests).

=====  =========================================  ==========================================
 ex.    the student writes                         checker
=====  =========================================  ==========================================
 1      the interpolant x_t, the marginal p_t      check_interpolate, check_marginal_pdf
 2      E[x_0 | x_t], the flow velocity            check_posterior_mean, check_velocity
 3      exact flow map, Euler integration          check_flow_map, check_euler_flow
 4      backward pass of a linear + SiLU layer     check_linear_silu_backward
 5      boundary-respecting f, the CT loss         check_parametrize, check_ct_loss
 6      the multistep sampler                      check_multistep_sample
=====  =========================================  ==========================================
"""

from .checking import CheckResult
from .ex1_interpolant import check_interpolate, check_marginal_pdf
from .ex2_posterior import check_posterior_mean, check_velocity
from .ex3_flow_map import check_euler_flow, check_flow_map, euler_error
from .ex4_backprop import check_linear_silu_backward, linear_silu_forward, numerical_gradient
from .ex5_consistency import check_ct_loss, check_parametrize
from .ex6_sampling import check_multistep_sample

__all__ = [
    "CheckResult",
    "check_interpolate",
    "check_marginal_pdf",
    "check_posterior_mean",
    "check_velocity",
    "check_flow_map",
    "check_euler_flow",
    "euler_error",
    "check_linear_silu_backward",
    "linear_silu_forward",
    "numerical_gradient",
    "check_parametrize",
    "check_ct_loss",
    "check_multistep_sample",
]
