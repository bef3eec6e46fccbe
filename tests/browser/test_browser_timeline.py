"""The training timeline in real headless Chromium: upload a run with snapshots, open Inspect, press Play.

AppTest ignores run_every, so only a browser shows whether the timer really steps through the snapshots.
The screenshots are kept under screenshots/ to look at.
"""

import time

from browser import ROOT, full_length_screenshot

from lenet import LeNetConfig, TrainSettings, export_run
from lenet.screenshots import wait_until_drawn
from lenet.training import train

SHOTS = ROOT / "screenshots"
# Streamlit leaves the previous run's elements on the page, marked stale, until the new run has drawn them
LIVE_BUTTONS = """label => [...document.querySelectorAll('button')].filter(
    b => b.innerText.trim().endsWith(label) && b.closest('[data-stale]')?.getAttribute('data-stale') !== 'true').length"""


def live_button(page, label: str) -> bool:
    return page.evaluate(LIVE_BUTTONS, label) > 0


def test_timeline_plays_in_the_browser(browser_page, tmp_path):
    run_dir = tmp_path / "timeline-run"
    train(LeNetConfig.modern(), TrainSettings(subset=1280, test_subset=256, epochs=2, batch_size=64, lr=0.1,
                                              momentum=0.9, init="default", device="cpu"), run_dir=run_dir)
    (tmp_path / "timeline-run.zip").write_bytes(export_run(run_dir))
    page = browser_page
    page.goto("/Train")
    wait_until_drawn(page)  # on a cold server the first run imports torch: upload once the page is up
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(tmp_path / "timeline-run.zip")
    page.get_by_text("Imported as").wait_for(timeout=90_000)

    page.goto("/Inspect")
    page.get_by_role("combobox", name="Model").wait_for(timeout=90_000)
    if "timeline-run" not in page.get_by_role("combobox", name="Model").input_value():  # another test's run is newer
        page.get_by_role("combobox", name="Model").click()
        page.get_by_role("option", name="timeline-run", exact=False).click()
    slider = page.locator('[data-testid="stSlider"]').filter(has_text="Epoch").get_by_role("slider")
    slider.wait_for(timeout=90_000)
    wait_until_drawn(page)
    page.get_by_text("Training timeline", exact=True).scroll_into_view_if_needed()
    full_length_screenshot(page, SHOTS / "Inspect_timeline.png", height=1600)

    page.get_by_role("button", name="Play", exact=True).click()
    page.wait_for_function(f"() => ({LIVE_BUTTONS})('Pause') > 0", timeout=60_000)
    seen, start = [], time.monotonic()
    while not live_button(page, "Play") and time.monotonic() - start < 90:
        value = slider.get_attribute("aria-valuetext", timeout=10_000)
        if not seen or value != seen[-1]:
            seen.append(value)
        page.wait_for_timeout(200)
    order = ["0", "0.1", "0.25", "0.5", "1", "2"]  # 20 batches an epoch: snapshots after 2, 5 and 10 of them
    steps = [order.index(v) for v in seen]
    assert steps == sorted(steps) and len(steps) >= 3 and steps[0] <= 1, seen  # from the start, forwards only
    assert slider.get_attribute("aria-valuetext") == "2"  # stopped at the end
    wait_until_drawn(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    page.get_by_text("Training timeline", exact=True).scroll_into_view_if_needed()
    full_length_screenshot(page, SHOTS / "Inspect_timeline_played.png", height=1600)
