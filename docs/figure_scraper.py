"""A sphinx-gallery image scraper for the matplotlib ``Figure`` objects that :mod:`convcore.plots`
returns: they are created without pyplot (convcore never touches pyplot's global state), so the
default scraper, which asks pyplot for its open figures, cannot see them. This one looks for
figures among the example's variables and saves each new one once, then hands over to the default
scraper for pyplot's figures."""
from sphinx_gallery.scrapers import figure_rst, matplotlib_scraper


def scrape(block, block_vars, gallery_conf, **kwargs):
    from matplotlib.figure import Figure
    done = block_vars.setdefault("convcore_figures_done", set())
    paths = []
    for value in list(block_vars["example_globals"].values()):
        if not isinstance(value, Figure) or id(value) in done:
            continue
        done.add(id(value))
        if value.canvas.manager is None:     # not pyplot's (those go to the default scraper)
            path = next(block_vars["image_path_iterator"])
            value.savefig(path, dpi=80)
            paths.append(path)
    rst = figure_rst(paths, gallery_conf["src_dir"]) if paths else ""
    return rst + matplotlib_scraper(block, block_vars, gallery_conf, **kwargs)


def _get_sg_image_scraper():
    return scrape
