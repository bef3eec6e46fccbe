"""Train briefly in real headless Chromium, then open Inspect: the screenshots are kept to look at."""

from browser import ROOT, full_length_screenshot, screenshot

SHOTS = ROOT / "screenshots"


def test_train_then_inspect_in_the_browser(browser_page):
    page = browser_page
    result = screenshot(page, "/Train", SHOTS / "Train_start.png")
    assert not result["exception"], result["exception_text"]
    page.locator('[data-testid="stSelectbox"]').filter(has_text="Start from").click()
    page.get_by_role("option", name="Modern").click()
    page.wait_for_timeout(1000)
    slider = page.locator('[data-testid="stSlider"]').filter(has_text="training images").get_by_role("slider")
    slider.focus()
    page.keyboard.press("Home")  # the smallest training set: 1,000 images
    page.wait_for_timeout(800)
    epochs = page.get_by_label("epochs", exact=True)
    epochs.fill("1")
    epochs.press("Enter")
    page.wait_for_timeout(1000)
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text("Finished after 1 epoch").wait_for(timeout=180_000)
    page.locator('[data-testid="stPlotlyChart"] .main-svg').first.wait_for()
    page.wait_for_timeout(1000)
    full_length_screenshot(page, SHOTS / "Train_finished.png")
    assert page.locator('[data-testid="stException"]').count() == 0

    result = screenshot(page, "/Inspect", SHOTS / "Inspect_after_training.png")
    assert not result["exception"], result["exception_text"]
    assert "1 epoch(s)" in page.get_by_role("combobox", name="Model").input_value()  # the run just trained
    assert page.locator('[data-testid="stPlotlyChart"]').count() >= 8
