"""Reference solution of exercise 6 (notebooks/exercises/06_multistep_sampler.ipynb)."""


def multistep_sample(f, rng, n, times, schedule):
    """x_0 = f(1, x_1), then for each later tau: x_0 = f(tau, alpha_tau x_0 + sigma_tau z). returns [n]"""
    x_0 = f(1.0, rng.standard_normal(n))  # one step from pure noise x_1
    for tau in times[1:]:
        z = rng.standard_normal(n)  # fresh noise at every step
        x_tau = schedule.alpha(tau) * x_0 + schedule.sigma(tau) * z  # back onto the interpolant
        x_0 = f(tau, x_tau)
    return x_0
