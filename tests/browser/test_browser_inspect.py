"""Inspect's drawing pad and clickable confusion matrix in real headless Chromium: AppTest can neither draw on a
custom component nor click a chart. The screenshots are kept under screenshots/ to look at."""

from browser import ROOT, full_length_screenshot

from lenet.screenshots import wait_until_drawn

SHOTS = ROOT / "screenshots"
# The confusion matrix as plotly drew it: the counts and the class names along each axis.
CONFUSION = """() => {
  const plot = [...document.querySelectorAll('.js-plotly-plot')]
    .find(p => (p.layout?.title?.text || '').includes('Confusion matrix'));
  const heatmap = plot._fullData[0];
  return {z: Array.from(heatmap.z, row => Array.from(row)), x: heatmap.x, y: heatmap.y};
}"""


def test_a_drawing_on_the_pad_is_what_the_model_sees(browser_page):
    page = browser_page
    page.goto("/Inspect?how=draw")
    page.get_by_text("Draw a piece of clothing on the pad").wait_for(timeout=90_000)
    wait_until_drawn(page)
    pad = page.locator("canvas.upper-canvas").first  # Fabric.js listens to the mouse on its upper canvas
    box = pad.bounding_box()
    for row in range(6):  # a filled block, stroke by stroke, as a student would colour in a bag
        y = box["y"] + box["height"] * (0.3 + 0.08 * row)
        page.mouse.move(box["x"] + box["width"] * 0.25, y)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.75, y, steps=8)
        page.mouse.up()
    page.get_by_text("your drawing, converted to 28x28 like the dataset").wait_for(timeout=60_000)
    page.get_by_text("conv1: 6 x 28 x 28").first.wait_for(timeout=60_000)
    wait_until_drawn(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.get_by_text("Which pixels decided '").count() >= 1
    full_length_screenshot(page, SHOTS / "Inspect_drawing.png", height=1600)


def test_a_click_on_a_confusion_matrix_cell_lists_its_images_and_opens_one(browser_page):
    page = browser_page
    page.goto("/Inspect")
    page.get_by_text("Most confused pairs").wait_for(timeout=120_000)
    wait_until_drawn(page)
    matrix = page.evaluate(CONFUSION)
    z, n = matrix["z"], len(matrix["x"])
    true, predicted = max(((t, p) for t in range(n) for p in range(n) if t != p), key=lambda tp: z[tp[0]][tp[1]])
    assert z[true][predicted] > 0

    plot = page.locator('[data-testid="stPlotlyChart"]').filter(has_text="Confusion matrix")
    plot.scroll_into_view_if_needed()
    cells = plot.locator(".nsewdrag").first.bounding_box()  # the plotting area: n x n cells, true classes down
    page.mouse.click(cells["x"] + cells["width"] * (predicted + 0.5) / n,
                     cells["y"] + cells["height"] * (true + 0.5) / n)
    heading = f"True {matrix['y'][true]}, predicted {matrix['x'][predicted]}: {z[true][predicted]:,} images"
    page.get_by_text(heading).wait_for(timeout=60_000)
    wait_until_drawn(page)
    full_length_screenshot(page, SHOTS / "Inspect_confusion_click.png")

    first = page.locator('[class*="st-key-open_"]').first
    index = next(c for c in first.get_attribute("class").split() if c.startswith("st-key-open_")).split("_")[-1]
    first.locator("button").first.click()
    page.get_by_text(f"test image {index}: {matrix['y'][true]}").wait_for(timeout=60_000)
    wait_until_drawn(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.get_by_role("spinbutton", name="test image").input_value() == index
