import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from icl_utils.book import plotting  # noqa: E402


def test_theme_is_opaque():
    plotting.set_theme()
    assert plt.rcParams["savefig.transparent"] is False
    assert matplotlib.colors.to_rgba(plt.rcParams["figure.facecolor"])[3] == 1.0


def test_helpers_draw():
    plotting.set_theme()
    fig, ax = plt.subplots()
    line = plotting.mean_band(ax, [1, 2, 3], np.array([[1, 2, 3], [3, 4, 5]]), label="m")
    np.testing.assert_allclose(line.get_ydata(), [2, 3, 4])
    v = plotting.mark_threshold(ax, 2.5, "thr")
    assert v.get_label() == "thr"
    s = plotting.draw_slope(ax, [1, 2, 4], -1, (1, 8), "slope")
    np.testing.assert_allclose(s.get_ydata(), [8, 4, 2])
    sc = plotting.embedding_scatter(ax, np.zeros((2, 3)), np.ones((2, 3)), [0, 10])
    assert sc.get_offsets().shape == (6, 2)
    plt.close(fig)


def test_retina_figures_when_asked(monkeypatch):
    """ICL_FIGURE_FORMAT=retina (make book sets it): PNGs at twice the pixels, shown at 1x size."""
    import base64

    import matplotlib.pyplot as plt
    from IPython.core.interactiveshell import InteractiveShell

    from icl_utils.book import plotting

    monkeypatch.setenv(plotting.FIGURE_FORMAT_ENV, "retina")
    plotting.set_theme()
    fig, ax = plt.subplots(figsize=(2, 1))
    ax.plot([0, 1])
    try:
        png = InteractiveShell.instance().display_formatter.formatters["image/png"]
        out = png.lookup(fig)(fig)
    finally:
        plt.close(fig)
        monkeypatch.delenv(plotting.FIGURE_FORMAT_ENV)
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("png")
    data, meta = out
    png_width = int.from_bytes(base64.b64decode(data)[16:20], "big")
    assert png_width in (2 * meta["width"], 2 * meta["width"] + 1)  # drawn at 2x, shown at 1x


def test_every_figure_text_is_at_least_body_size():
    """Ticks, legends, labels and titles are drawn at >= 16 CSS px (the body text) at the book's DPI."""
    plotting.set_theme()
    assert plt.rcParams["figure.dpi"] == plotting.DPI
    keys = (
        "font.size",
        "axes.labelsize",
        "axes.titlesize",
        "xtick.labelsize",
        "ytick.labelsize",
        "legend.fontsize",
        "legend.title_fontsize",
        "figure.titlesize",
    )
    sizes = {k: plotting.text_px(plt.rcParams[k]) for k in keys}
    assert all(px >= 16 for px in sizes.values()), sizes


def test_figure_widths_fit_the_column():
    """WIDTH fits the 672 px text column, WIDE the 914 px of a full-width cell, at DPI."""
    assert plotting.WIDTH * plotting.DPI <= 672
    assert plotting.WIDTH < plotting.WIDE and plotting.WIDE * plotting.DPI <= 914


def test_legend_below_covers_no_axes():
    """The legend sits under the tick labels and x label: of its axes, or of every axes."""
    plotting.set_theme()
    fig, axes = plt.subplots(1, 2, figsize=(plotting.WIDE, 3))
    for ax in axes:
        ax.plot([0, 1], [0, 1], label="a line")
        ax.plot([0, 1], [1, 0], label="another line")
        ax.set_xlabel("x label")
    fig.tight_layout()
    r = fig.canvas.get_renderer()
    boxes = [ax.get_tightbbox(r) for ax in axes]
    for target, under in ((axes[0], boxes[:1]), (fig, boxes)):
        leg = plotting.legend_below(target, ncol=2)
        lb = leg.get_window_extent(r)
        assert all(lb.y1 <= b.y0 for b in under)
        if target is fig:
            centre = (min(b.x0 for b in under) + max(b.x1 for b in under)) / 2
        else:
            centre = (target.get_window_extent(r).x0 + target.get_window_extent(r).x1) / 2
        assert abs((lb.x0 + lb.x1) / 2 - centre) < 2
        leg.remove()
    plt.close(fig)


def test_spaced_ticks_keep_labels_apart():
    plotting.set_theme()
    ticks = [1, 2, 3, 4, 5, 7, 10, 13, 16, 20, 25, 30, 40, 50, 70, 100]
    assert plotting.spaced_ticks(ticks, 0.9, 110, 5000) == ticks  # a long axis keeps them all
    kept = plotting.spaced_ticks(ticks, 0.9, 110, 400)
    assert kept[0] == 1 and kept[-1] == 100 and len(kept) < len(ticks)
    per_decade = 400 / np.log10(110 / 0.9)
    for a, b in zip(kept, kept[1:]):
        gap = np.log10(b / a) * per_decade
        assert gap >= (plotting._label_px(a) + plotting._label_px(b)) / 2
    assert plotting.spaced_ticks([1, 2, 200], 0.9, 110, 400) == [1, 2]  # outside the limits: dropped
    assert plotting.spaced_ticks([5], 0.9, 110, 10) == [5]


def test_plain_log_ticks_drop_colliding_labels():
    plotting.set_theme()
    fig, ax = plt.subplots(figsize=(3, 2))
    xs = [1, 2, 3, 4, 5, 7, 10, 13, 16, 20, 25, 30, 40, 50, 70, 100]
    ax.plot(xs, xs)
    ax.set_xscale("log")
    plotting.plain_log_ticks(ax, xs)
    shown = list(ax.get_xticks())
    assert 1 in shown and 100 in shown and len(shown) < len(xs)
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[0] == "1" and labels[-1] == "100" and all(x.isdigit() for x in labels)  # plain numbers
    plt.close(fig)
