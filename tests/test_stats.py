import numpy as np
import pytest

from icl_utils.book import export
from icl_utils.core import stats


def test_fit_recovers_a_power_law_and_its_interval_covers_it():
    rng = np.random.default_rng(1)
    x = np.array([0.2, 0.3, 0.5, 0.8, 1.0])
    y = 50 * x[:, None] ** -0.7 * np.exp(rng.normal(0, 0.05, (5, 8)))
    fit = stats.fit_power_law_ci(x, y)
    assert abs(fit.slope + 0.7) < 0.05
    assert fit.lo < fit.slope < fit.hi and fit.contains(-0.7)
    assert not fit.contains(-2 / 3 - 1)
    assert fit.n_points == 40 and fit.n_seeds == 8
    np.testing.assert_allclose(fit.predict(x), np.exp(fit.intercept) * x**fit.slope)
    assert str(fit).startswith(f"{fit.slope:.2f} (90% CI ")


def test_fit_is_the_plain_least_squares_slope_and_deterministic():
    x = np.array([1.0, 2.0, 4.0])
    y = np.array([[8.0, 9.0], [4.0, 4.5], [2.0, 2.5]])
    fit = stats.fit_power_law_ci(x, y)
    X = np.repeat(np.log(x), 2)
    slope, c = np.polyfit(X, np.log(y).ravel(), 1)
    assert fit.slope == pytest.approx(slope) and fit.intercept == pytest.approx(c)
    assert stats.fit_power_law_ci(x, y) == fit  # same draws every time


def test_fit_leaves_out_seeds_that_never_reached_and_reports_nan_when_nothing_is_left():
    x = np.array([0.2, 0.5, 1.0])
    y = np.array([[np.nan, 100.0], [40.0, np.nan], [20.0, 18.0]])
    fit = stats.fit_power_law_ci(x, y)
    assert fit.n_points == 4 and fit.n_seeds == 2 and np.isfinite(fit.slope)
    empty = stats.fit_power_law_ci(x, np.full((3, 2), np.nan))
    assert np.isnan(empty.slope) and np.isnan(empty.lo) and not empty.contains(-1.0)
    one_x = stats.fit_power_law_ci(x, np.array([[1.0, 2.0], [np.nan, np.nan], [np.nan, np.nan]]))
    assert np.isnan(one_x.slope)


def test_fit_rejects_bad_shapes_and_levels():
    with pytest.raises(ValueError, match="'y'"):
        stats.fit_power_law_ci([1, 2], np.ones((3, 2)))
    with pytest.raises(ValueError, match="'level'"):
        stats.fit_power_law_ci([1, 2], np.ones((2, 2)), level=1.5)


def test_count_reached_counts_finite_values_at_most_the_target():
    v = np.array([[0.01, 0.2, np.nan], [0.05, 0.05, 0.0]])
    assert stats.count_reached(v, 0.05).tolist() == [1, 3]


def test_export_writes_only_when_a_folder_is_set(tmp_path, monkeypatch):
    monkeypatch.delenv(export.DATA_ENV, raising=False)
    df = export.save_table("curve", {"x": [1, 2], "err": [0.5, 0.25]})
    assert list(df.columns) == ["x", "err"] and export.save_json("claims", [1]) is None
    monkeypatch.setenv(export.DATA_ENV, str(tmp_path / "out"))
    export.save_table("curve", {"x": [1, 2], "err": [0.5, 0.25]})
    assert (tmp_path / "out" / "curve.csv").read_text().splitlines() == ["x,err", "1,0.5", "2,0.25"]
    path = export.save_json("claims", {"a": np.float64(0.5), "b": np.array([1, 2]), "c": float("nan")})
    assert open(path).read().replace(" ", "").replace("\n", "") == '{"a":0.5,"b":[1,2],"c":null}'
    with pytest.raises(ValueError, match="'name'"):
        export.save_table("../evil", {"x": [1]})


def test_linear_fit_recovers_a_line_with_per_seed_x_and_its_interval_covers_it():
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 1, (6, 8))
    y = 1.0 - 0.9 * x + rng.normal(0, 0.01, (6, 8))
    fit = stats.fit_linear_ci(x, y)
    assert abs(fit.slope + 0.9) < 0.02 and fit.intercept == pytest.approx(1.0, abs=0.02)
    assert fit.lo < fit.slope < fit.hi and fit.contains(-0.9) and not fit.contains(-1.2)
    assert fit.n_points == 48 and fit.n_seeds == 8
    np.testing.assert_allclose(fit.predict([0.0, 1.0]), [fit.intercept, fit.intercept + fit.slope])
    assert str(fit).startswith(f"{fit.slope:.2f} (90% CI ")
    shared = stats.fit_linear_ci(np.arange(6.0), y)
    slope, c = np.polyfit(np.repeat(np.arange(6.0), 8), y.ravel(), 1)
    assert shared.slope == pytest.approx(slope) and shared.intercept == pytest.approx(c)
    assert stats.fit_linear_ci(x, y) == fit  # same draws every time


def test_linear_fit_leaves_out_nan_and_rejects_bad_shapes():
    y = np.array([[1.0, np.nan], [0.5, 0.6], [0.0, 0.1]])
    fit = stats.fit_linear_ci(np.array([0.0, 0.5, 1.0]), y)
    assert fit.n_points == 5 and fit.n_seeds == 2 and np.isfinite(fit.slope)
    assert np.isnan(stats.fit_linear_ci([0.0, 1.0], np.full((2, 3), np.nan)).slope)
    with pytest.raises(ValueError, match="'x'"):
        stats.fit_linear_ci(np.zeros((3, 3)), y)
    with pytest.raises(ValueError, match="'y'"):
        stats.fit_linear_ci([0.0, 1.0], y)
    with pytest.raises(ValueError, match="'level'"):
        stats.fit_linear_ci([0.0, 0.5, 1.0], y, level=1.0)


def test_fmt_error_prints_not_learned_runs_as_such():
    from icl_utils.core.stats import fmt_error

    assert fmt_error(0.0123) == "0.012"
    assert fmt_error(0.1) == "0.100"
    assert fmt_error(0.368) == ">0.1" == fmt_error(0.386)
    assert fmt_error(float("nan")) == "nan"
    assert fmt_error(0.25, digits=2, above=0.3) == "0.25"
