import pytest

import icl_utils as icl
from icl_utils.book.profiles import get_profile
from icl_utils.incontext.config import ICLConfig


def test_defaults_are_valid():
    c = ICLConfig()
    assert c.d == c.d_X + c.d_Y


@pytest.mark.parametrize(
    "field, value, fragment",
    [
        ("alpha", 0.0, "(0.0, 1.0]"),
        ("alpha", 1.5, "(0.0, 1.0]"),
        ("alpha", -0.1, "(0.0, 1.0]"),
        ("alpha_test", 0.0, "(0.0, 1.0]"),
        ("alpha", float("nan"), "finite"),
        ("M1", 1, ">= 2"),
        ("l_tr", 0, ">= 1"),
        ("l_ts", 0, ">= 1"),
        ("task_fraction", 0.0, "(0.0, 1.0]"),
        ("task_fraction", 1.01, "(0.0, 1.0]"),
        ("m", 3, "even"),
        ("lr", 0.0, "(0.0"),
        ("d_X", 10, "M1 + M2"),
        ("kappa", 1.0, "1.0)"),
        ("B", 0, ">= 1"),
    ],
)
def test_bad_values_name_parameter_and_range(field, value, fragment):
    with pytest.raises(ValueError) as err:
        ICLConfig(**{field: value})
    msg = str(err.value)
    assert repr(field) in msg and fragment in msg


@pytest.mark.parametrize("field, value", [("M1", 6.0), ("l_tr", "20"), ("alpha", "0.5"), ("T", True), ("seed", 1.5)])
def test_wrong_types_are_rejected(field, value):
    with pytest.raises(ValueError, match=repr(field)):
        ICLConfig(**{field: value})


def test_int_is_accepted_for_float_fields():
    assert ICLConfig(alpha=1, lr=5).alpha == 1.0


def test_alpha_below_one_needs_a_third_pattern():
    with pytest.raises(ValueError, match="'alpha'"):
        ICLConfig(M1=2, M2=2, d_X=4, alpha=0.5)
    ICLConfig(M1=2, M2=2, d_X=4, alpha=1.0, alpha_test=1.0)


def test_replace_validates_and_rejects_unknown_fields():
    with pytest.raises(ValueError, match="'alpha'"):
        ICLConfig().replace(alpha=2.0)
    with pytest.raises(ValueError, match="unknown"):
        ICLConfig().replace(alpah=0.5)


def test_profiles():
    q = get_profile("01_in_domain", "quick")
    p = get_profile("01_in_domain", "paper")
    assert q.name == "quick" and p.name == "paper"
    assert p.n_seeds > q.n_seeds and p.base.T > q.base.T
    assert len(p.lengths) > len(q.lengths)


def test_profile_overrides_and_none():
    prof = get_profile("01_in_domain", "quick", n_seeds=5, T=None, lr=5.0)
    assert prof.n_seeds == 5 and prof.base.lr == 5.0
    assert prof.base.T == get_profile("01_in_domain").base.T


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"profile": "fast"}, "profile"),
        ({"chapter": "99_nope"}, "chapter"),
        ({"n_seeds": 0}, "n_seeds"),
        ({"alpha": 0.0}, "alpha"),
        ({"fractions": (0.5, 1.5)}, "fractions"),
        ({"lengths": (0, 5)}, "lengths"),
        ({"target_error": 0.7}, "target_error"),
        ({"bogus": 1}, "bogus"),
    ],
)
def test_profile_errors_name_the_parameter(kwargs, name):
    kwargs = dict(kwargs)
    chapter = kwargs.pop("chapter", "01_in_domain")
    profile = kwargs.pop("profile", "quick")
    with pytest.raises(ValueError, match=repr(name)):
        get_profile(chapter, profile, **kwargs)


def test_set_seed_validates():
    icl.set_seed(3)
    with pytest.raises(ValueError, match="'seed'"):
        icl.set_seed(-1)


def test_start_chapter():
    prof, dev = icl.start_chapter("03_pruning", "quick", "cpu", n_seeds=2, n_random=None)
    assert prof.n_seeds == 2 and prof.n_random == icl.get_profile("03_pruning").n_random and dev.type == "cpu"
    with pytest.raises(ValueError, match="'n_random'"):
        icl.start_chapter("03_pruning", "quick", n_random=0)


@pytest.mark.parametrize(
    "chapter, kwargs, name",
    [
        ("02_out_of_domain", {"S1s": (0.5, -1.0)}, "S1s"),
        ("03_pruning", {"rates": (0.1, 1.0)}, "rates"),
        ("04_cot_vs_icl", {"taus": (0.5, 0.0)}, "taus"),
        ("04_cot_vs_icl", {"alpha_main": 0.9}, "alpha_main"),
        ("04_cot_vs_icl", {"n_seeds": 0}, "n_seeds"),
    ],
)
def test_every_chapter_profile_validates(chapter, kwargs, name):
    with pytest.raises(ValueError, match=repr(name)):
        get_profile(chapter, "quick", **kwargs)


def test_profile_base_must_have_the_right_type():
    from icl_utils.book.profiles import CoTProfile, PruningProfile

    with pytest.raises(ValueError, match="'base'"):
        CoTProfile(name="x", base=ICLConfig(), n_seeds=1)
    with pytest.raises(ValueError, match="'base'"):
        PruningProfile(name="x", base=icl.cot.config.CoTConfig(), n_seeds=1)


def test_every_run_config_names_an_unknown_field_in_replace():
    from icl_utils.cot.training import CoTConfig
    from icl_utils.incontext.config import EvalConfig, ICLConfig

    for cfg in (ICLConfig(), EvalConfig(), CoTConfig()):
        with pytest.raises(ValueError, match=f"unknown {type(cfg).__name__} parameter.*'alpah'"):
            cfg.replace(alpah=0.3)
        assert type(cfg)(**cfg.to_dict()) == cfg


def test_the_paper_profile_is_a_diff_with_a_reason_per_value():
    from dataclasses import fields

    from icl_utils.book import profiles

    for chapter, diff in profiles.PAPER.items():
        cls = profiles._CLASSES[chapter]
        defaults = {f.name: f.default for f in fields(cls)}
        quick, paper = get_profile(chapter, "quick"), get_profile(chapter, "paper")
        for name, (value, reason) in diff.items():
            assert name in defaults and name != "name", (chapter, name)
            assert value != defaults[name], f"{chapter}.{name}: the paper value equals the quick default"
            assert isinstance(reason, str) and len(reason.split()) >= 3, (chapter, name)
            assert getattr(paper, name) == value and getattr(quick, name) == defaults[name]
        same = [f.name for f in fields(cls) if f.name not in diff and f.name != "name"]
        assert all(getattr(paper, n) == getattr(quick, n) for n in same)  # nothing else changes
    rows = profiles.describe()
    assert len(rows) == sum(len(d) for d in profiles.PAPER.values())
    assert ("01_in_domain", "n_seeds", "5", "10") == rows[1][:4]
    assert rows[0][2:4] == ("ICLConfig(T=400, record_every=10)", "ICLConfig(T=1500, n_eval=4000, record_every=10)")


def test_check_ensemble_names_the_field_that_differs():
    from icl_utils.core.checks import check_ensemble
    from icl_utils.cot.config import CoTConfig
    from icl_utils.incontext.gpt2 import GPT2RunConfig

    a, b = ICLConfig(), ICLConfig(seed=1, alpha=0.8, lr=5.0)  # seed, data and lr may differ
    assert check_ensemble([a, b], ICLConfig) == [a, b]
    with pytest.raises(ValueError, match="field 'T' differs within one ensemble"):
        check_ensemble([a, b.replace(T=7)], ICLConfig)
    with pytest.raises(ValueError, match="'configs'"):
        check_ensemble([], ICLConfig)
    with pytest.raises(ValueError, match="'configs'"):
        check_ensemble([a, CoTConfig()], ICLConfig)
    # every run configuration declares what one ensemble shares; one Adam: GPT-2 shares lr too
    assert {"T", "B", "m"} <= set(ICLConfig.ENSEMBLE_FIELDS) and "lr" not in ICLConfig.ENSEMBLE_FIELDS
    assert {"T", "K", "M"} <= set(CoTConfig.ENSEMBLE_FIELDS)
    assert "lr" in GPT2RunConfig.ENSEMBLE_FIELDS
    with pytest.raises(ValueError, match="field 'lr' differs"):
        check_ensemble([GPT2RunConfig(), GPT2RunConfig(lr=2e-3)], GPT2RunConfig)
    assert "ENSEMBLE_FIELDS" not in ICLConfig().to_dict()  # a class constant, not a field


def test_task_split_is_validated():
    from icl_utils.incontext.config import ICLConfig

    assert ICLConfig(task_split="random").task_split == "random"
    with pytest.raises(ValueError, match="'task_split'"):
        ICLConfig(task_split="covered")


def test_a_run_trains_on_the_split_its_config_names():
    from icl_utils.incontext.training import setup_member

    assert setup_member(ICLConfig(task_split="random", task_fraction=0.1)).train_tasks.shape[0] == 3
    assert setup_member(ICLConfig(task_fraction=0.1)).train_tasks.shape[0] == 6  # rounded up to a cover
