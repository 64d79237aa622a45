"""The Pareto set: the feasible trials (status ok, every budget and check met) no other feasible trial dominates -
at least as good on both objectives and better on one."""


def _better_or_equal(a, b, mode):
    return a >= b if mode == "max" else a <= b


def dominates(a, b, modes) -> bool:
    return all(_better_or_equal(x, y, m) for x, y, m in zip(a, b, modes)) and any(
        x != y for x, y in zip(a, b))


def pareto_indices(entries, metric, metric_mode, cost) -> list[int]:
    """Indices into `entries` of the non-dominated feasible trials, best metric first."""
    points = {i: (e["figures"][metric], e["figures"][cost]) for i, e in enumerate(entries)
              if e["status"] == "ok" and e["fits"]}
    modes = (metric_mode, "min")
    front = [i for i, p in points.items() if not any(dominates(q, p, modes) for j, q in points.items() if j != i)]
    return sorted(front, key=lambda i: (-points[i][0] if metric_mode == "max" else points[i][0], points[i][1]))


def best(entries, metric, metric_mode, cost):
    """Index of the plan to deliver: the best metric among the feasible trials, the lower cost on a tie."""
    front = pareto_indices(entries, metric, metric_mode, cost)
    return front[0] if front else None
